module github.com/ml-connector/ml-connector/streams

go 1.26.0
