// Package event defines the CloudEvents envelope, subjects, message ids and
// NetSuite external ids shared by every ml-connector service.
package event
