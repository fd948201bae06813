//go:build !race

package writer_test

const raceBuild = false
