package cli

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"

	"github.com/palisade-sg/palisade/apiclient"
)

// errorHint says what to do about an error a client command met, for the
// errors a newcomer meets first (a wrong key, no server, the wrong scheme),
// or "" when the error says enough.
func errorHint(err error) string {
	code := ""
	var se *sdkerrors.ServerError
	var ae *apiclient.Error
	switch {
	case errors.As(err, &se):
		code = se.ErrorCode()
	case errors.As(err, &ae):
		code = ae.Code
	}
	switch code {
	case "":
	case "InvalidAccessKeyId.NotFound":
		return "this server has no such key: set PALISADE_ACCESS_KEY_ID and _SECRET (for account and host, PALISADE_OPERATOR_KEY_ID and _SECRET when set) to a pair it made (palisade serve prints both at its first start; palisade key create makes more), and check --endpoint"
	case "OperationFailed.VpcNotEnableIpv6", "OperationUnsupported.EnableIPv6":
		return "a VPC gets its IPv6 block when it is made: palisade vpc create --ipv6"
	case "SignatureDoesNotMatch":
		return "the secret is not the key's: set PALISADE_ACCESS_KEY_ID and _SECRET (for account and host, PALISADE_OPERATOR_KEY_ID and _SECRET when set) as they were printed together"
	default:
		return ""
	}
	var ua x509.UnknownAuthorityError
	switch {
	case causeIs(err, syscall.ECONNREFUSED):
		return "nothing listens there: start palisade serve, or give its address with --endpoint HOST:PORT (or PALISADE_ENDPOINT)"
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return "the server serves plain HTTP: give --endpoint without https://"
	case errors.As(err, &ua) || strings.Contains(err.Error(), "certificate signed by unknown authority"):
		return "the server's certificate is not trusted here: for one palisade serve --tls-self-signed DIR made, run with SSL_CERT_FILE=DIR/cert.pem"
	case causeIs(err, syscall.ECONNRESET) || causeIs(err, io.EOF) || strings.Contains(err.Error(), "malformed HTTP response"):
		return "the connection closed before an answer: if the server serves HTTPS, give --endpoint https://HOST:PORT"
	}
	return ""
}

// causeIs is errors.Is that also follows the SDK's OriginError, which its
// errors do not unwrap.
func causeIs(err, target error) bool {
	for err != nil {
		if errors.Is(err, target) {
			return true
		}
		o, ok := err.(interface{ OriginError() error })
		if !ok {
			return false
		}
		err = o.OriginError()
	}
	return false
}

// printHint writes errorHint's advice under an error, if it has any.
func printHint(w io.Writer, err error) {
	if h := errorHint(err); h != "" {
		fmt.Fprintf(w, "  hint: %s\n", h)
	}
}
