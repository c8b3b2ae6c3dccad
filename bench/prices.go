package bench

// PricesRead is when the prices below were read. They could not be read
// from the live AWS pages here; each was found, with the page it is quoted
// from, through the project's document search on that date, and Source says
// which page, and whether only a third-party page confirmed the figure.
const PricesRead = "2026-11-30"

// Prices are the published us-east-1 (and us-west-2, the same) on-demand
// prices the cost model uses, in US dollars.
type Prices struct {
	EventsPerM        float64 // EventBridge custom events published, per million
	ReplicatedPerM    float64 // EventBridge events a global endpoint replicates to the other bus, per million
	LambdaRequestPerM float64 // Lambda requests, per million
	LambdaArmGBs      float64 // Lambda arm64 compute, per GB-second
	LambdaX86GBs      float64 // Lambda x86_64 compute, per GB-second
	WRUPerM           float64 // DynamoDB on-demand write request units, per million
	RWRUPerM          float64 // DynamoDB replicated write request units, per million
	RRUPerM           float64 // DynamoDB on-demand read request units, per million
	StorageGBMonth    float64 // DynamoDB Standard storage, per GB-month
	PITRGBMonth       float64 // DynamoDB continuous backups (PITR), per GB-month
	LogsIngestGB      float64 // CloudWatch Logs Standard ingestion, per GB
	XRayTracePerM     float64 // X-Ray traces recorded, per million
	AlarmMonth        float64 // CloudWatch standard-resolution alarm, per month
	DashboardMonth    float64 // CloudWatch dashboard, per month
	MetricMonth       float64 // CloudWatch custom metric (EMF), per month
	HealthCheckMonth  float64 // Route 53 health check (AWS endpoint), per month
	KMSKeyMonth       float64 // KMS customer managed key, per month
}

// PriceSource is one price's provenance, for the report.
type PriceSource struct {
	What, Value, Source string
}

// PublishedPrices returns the price table and where each figure comes from.
func PublishedPrices() (Prices, []PriceSource) {
	const (
		ebAWS    = "https://aws.amazon.com/eventbridge/pricing/ (not in the search corpus; quoted by blog.awsfundamentals.com/aws-eventbridge-pricing-guide and cloudburn.io/blog/amazon-eventbridge-pricing, Mar 2026)"
		ebRepl   = "factualminds.com/blog/amazon-eventbridge-pricing-events-pipes-schema-archive (Jun 2026): a global endpoint's replication publishes each event again, billed as a custom event; not confirmed on an AWS page"
		lambda   = "https://aws.amazon.com/lambda/pricing/ (not in the corpus; the figures this project has used since issue 5)"
		ddb      = "airbyte.com/data-engineering-resources/dynamodb-pricing (after AWS's Nov 2024 on-demand price cut); AWS's page https://aws.amazon.com/dynamodb/pricing/on-demand/ not in the corpus"
		ddbRepl  = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/global-tables-billing.html: replicated write units are priced the same as write units; GSI updates in a replica are ordinary write units"
		ddbStore = "https://aws.amazon.com/dynamodb/pricing/on-demand/ (not confirmed in the corpus: widely quoted figures)"
		logs     = "c3x.dev/blog/cloudwatch-logs-cost-optimization and hykell.com (us-east-1, 2026); https://aws.amazon.com/cloudwatch/pricing/ not in the corpus"
		cwFixed  = "factualminds.com/blog/amazon-cloudwatch-pricing-metrics-logs-alarms-dashboards (dashboards $3); alarms and metrics: https://aws.amazon.com/cloudwatch/pricing/ (not confirmed in the corpus)"
		xray     = "https://aws.amazon.com/xray/pricing/ (not confirmed in the corpus)"
		route53  = "https://aws.amazon.com/route53/pricing/ (not confirmed in the corpus)"
		kms      = "https://aws.amazon.com/kms/pricing/ (not confirmed in the corpus)"
	)
	p := Prices{
		EventsPerM: 1.00, ReplicatedPerM: 1.00,
		LambdaRequestPerM: 0.20, LambdaArmGBs: PriceArm64GBSecond, LambdaX86GBs: PriceX86GBSecond,
		WRUPerM: 0.625, RWRUPerM: 0.625, RRUPerM: 0.125,
		StorageGBMonth: 0.25, PITRGBMonth: 0.20,
		LogsIngestGB: 0.50, XRayTracePerM: 5.00,
		AlarmMonth: 0.10, DashboardMonth: 3.00, MetricMonth: 0.30, HealthCheckMonth: 0.50, KMSKeyMonth: 1.00,
	}
	return p, []PriceSource{
		{"EventBridge custom events published", "$1.00 per million", ebAWS},
		{"EventBridge events replicated by the global endpoint", "$1.00 per million", ebRepl},
		{"Lambda requests", "$0.20 per million", lambda},
		{"Lambda compute, arm64 / x86_64", "$0.0000133334 / $0.0000166667 per GB-second", lambda},
		{"DynamoDB on-demand writes / reads", "$0.625 per million WRU / $0.125 per million RRU", ddb},
		{"DynamoDB replicated writes (global tables)", "$0.625 per million rWRU", ddbRepl},
		{"DynamoDB storage / PITR", "$0.25 / $0.20 per GB-month", ddbStore},
		{"CloudWatch Logs ingestion (Standard)", "$0.50 per GB", logs},
		{"X-Ray traces recorded", "$5.00 per million", xray},
		{"CloudWatch alarm / dashboard / custom metric", "$0.10 / $3.00 / $0.30 per month", cwFixed},
		{"Route 53 health check", "$0.50 per month", route53},
		{"KMS key", "$1.00 per month", kms},
	}
}
