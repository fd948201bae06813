package event

// Streams, durable consumers and KV buckets, as declared in streams/. These
// are the only spellings: code names them through these constants.
const (
	StreamCommerce  = "COMMERCE"
	StreamNetSuite  = "NETSUITE"
	StreamSync      = "SYNC"
	StreamInventory = "INVENTORY"
	StreamDLQ       = "DLQ"
)

// Streams lists every stream, in flow order.
func Streams() []string {
	return []string{StreamCommerce, StreamNetSuite, StreamSync, StreamInventory, StreamDLQ}
}

// Durable consumer names (streams/<STREAM>/<durable>.json).
const (
	DurableTransform      = "transform"       // COMMERCE
	DurableNetSuiteWriter = "netsuite-writer" // NETSUITE
	DurableCommerceWriter = "commerce-writer" // INVENTORY (inventory-publisher's Commerce side)
	DurableAuditMirror    = "audit-mirror"    // one on every stream
)

// RuntimeMaxAckPending reports whether a durable's max_ack_pending belongs
// to its service at run time: netsuite-writer sets it to the NetSuite
// concurrency budget (the bound across its replicas). Provisioning creates
// such a consumer with the declared value and leaves the live one alone.
func RuntimeMaxAckPending(durable string) bool { return durable == DurableNetSuiteWriter }

// KV buckets (streams/kv/<bucket>.json).
const (
	BucketCredentials = "mlc_credentials"  // encrypted connection secrets
	BucketCheckpoints = "mlc_checkpoints"  // poll cursors, leases, schedules
	BucketItemMap     = "mlc_item_map"     // SKU -> NetSuite item id
	BucketCustomerMap = "mlc_customer_map" // buyer key -> NetSuite customer id
	BucketSynced      = "mlc_synced"       // externalId -> content hash + NetSuite id
	BucketSettings    = "mlc_settings"     // mapping settings
	BucketInventory   = "mlc_inventory"    // last published price/stock per store and SKU
)

// Buckets lists every KV bucket.
func Buckets() []string {
	return []string{BucketCredentials, BucketCheckpoints, BucketItemMap, BucketCustomerMap, BucketSynced, BucketSettings, BucketInventory}
}
