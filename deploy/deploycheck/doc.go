// Package deploycheck tests the deployment files of ml-connector: the NATS
// cluster configuration and permissions (deploy/nats), docker-compose.yml,
// the Kubernetes manifests (deploy/k8s) and the monitoring rules and
// dashboard (deploy/monitoring), against real servers and the code's own
// configuration structs. It has no code of its own: the files are the
// product, the tests (run from this directory) read them where they ship.
package deploycheck
