module github.com/ml-connector/ml-connector/deploy/healthcheck

go 1.26.0
