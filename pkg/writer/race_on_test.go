//go:build race

package writer_test

// raceBuild: the test binary runs under the race detector, so the writer
// binary is built with it too (and reuses the packages already compiled).
const raceBuild = true
