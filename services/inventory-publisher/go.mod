module github.com/ml-connector/ml-connector/services/inventory-publisher

go 1.26.0

require (
	github.com/ml-connector/ml-connector/pkg v0.0.0
	github.com/ml-connector/ml-connector/streams v0.0.0
)

replace github.com/ml-connector/ml-connector/pkg => ../../pkg

replace github.com/ml-connector/ml-connector/streams => ../../streams
