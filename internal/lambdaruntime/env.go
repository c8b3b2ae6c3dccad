package lambdaruntime

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"
)

// Env returns the environment Lambda gives a runtime process, pointed at this
// server: AWS_LAMBDA_RUNTIME_API and the function's name, memory, version, log
// group and stream, _HANDLER, LAMBDA_TASK_ROOT (/var/task; append your own to
// override: os/exec keeps the last value of a duplicated key), TZ and the X-Ray
// variables. It holds no PATH, region, credentials or application variables:
// append awslocal.Env and the function's own configuration.
func (s *Server) Env(functionName, handler string, memoryMB int) []string {
	stream := make([]byte, 16)
	_, _ = rand.Read(stream)
	return []string{
		"AWS_LAMBDA_RUNTIME_API=" + s.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=" + functionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(memoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + functionName,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + hex.EncodeToString(stream),
		"_HANDLER=" + handler,
		"LAMBDA_TASK_ROOT=/var/task",
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		// Where X-Ray SDKs send segments (UDP); nothing listens on loopback, as
		// no daemon runs here, so sending costs the same and goes nowhere.
		"AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:2000",
		"AWS_XRAY_CONTEXT_MISSING=LOG_ERROR",
	}
}
