package natsauth

//go:generate go run ./gen -in ../nats/permissions.json -out ../nats/accounts.conf
