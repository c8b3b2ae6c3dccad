// Command sdk is the SDK floor of `make bench`: the processor's four round
// trips per event with the AWS SDK for Go configured minimally — one
// dynamodb.Client built from dynamodb.Options (static credentials, endpoint,
// region; no config loading, no middleware added) sending the very requests
// TAP sends (store.PlanExecution and store.PlanState of the decoded event),
// and a plain net/http loop on the Runtime API: no aws-lambda-go, no logs,
// no metrics, no tracing. TAP's CPU per event over this program's is what
// TAP adds on top of the SDK.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tap-trading/tap/internal/event"
	"github.com/tap-trading/tap/internal/store"
)

func main() {
	if err := run(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "floor-sdk:", err)
		os.Exit(1)
	}
}

func run(getenv func(string) string) error {
	runtime.GOMAXPROCS(1) // as the processor runs (cmd/processor)
	api := "http://" + getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	table, region := getenv("FLOOR_TABLE"), getenv("AWS_REGION")
	db := dynamodb.New(dynamodb.Options{
		Region:       region,
		BaseEndpoint: aws.String(getenv("AWS_ENDPOINT_URL")),
		Credentials:  credentials.NewStaticCredentialsProvider(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), ""),
		HTTPClient:   &http.Client{},
	})
	ctx := context.Background()
	c := &http.Client{}
	for {
		resp, err := c.Get(api + "next")
		if err != nil {
			return err
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		now := time.Now()
		d, err := event.Decode(raw, now)
		if err != nil || d.Report == nil {
			return fmt.Errorf("decode: %v", err)
		}
		put := store.PlanExecution(d.Report, region, now)
		put.TableName = &table
		if _, err := db.PutItem(ctx, put); err != nil {
			return err
		}
		upd := store.PlanState(d.Report, region, now)
		upd.TableName = &table
		if _, err := db.UpdateItem(ctx, upd); err != nil {
			return err
		}
		resp, err = c.Post(api+id+"/response", "application/json", bytes.NewReader([]byte("null")))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
