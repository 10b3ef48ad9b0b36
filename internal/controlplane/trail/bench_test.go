package trail

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/rpc"
)

// BenchmarkRecordWrite is what the trail costs a write: making the event
// of an AuthorizeSecurityGroup call as the bench/api client sends it, and
// writing it (queued, then written in batches; Flush waits for the last).
// cpu-µs/event is the process's CPU (the writer's goroutine included).
// flush=64 is about what one transaction takes in a server answering
// 1,000 writes a second (the writer waits writeDelay for more); flush=1000
// is a stream faster than the writer (transactions of batchSize).
func BenchmarkRecordWrite(b *testing.B) {
	for _, every := range []int{64, 1000} {
		b.Run(fmt.Sprint("flush=", every), func(b *testing.B) { benchmarkRecordWrite(b, every) })
	}
}

func benchmarkRecordWrite(b *testing.B, every int) {
	tr, err := Open(filepath.Join(b.TempDir(), "events"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	// The call is made once: what the server did to parse it is not the
	// trail's cost (EventOf copies what it keeps).
	c := benchCall()
	ctx := context.Background()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := range b.N {
		c.Start = time.Now()
		tr.Record(EventOf(c, "1000000000000001"))
		if i%every == every-1 {
			tr.Flush(ctx)
		}
	}
	tr.Flush(ctx)
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/event")
}

// benchCall is an AuthorizeSecurityGroup call as the bench/api client
// sends it, answered.
func benchCall() *rpc.Call {
	c := call("AuthorizeSecurityGroup", rpc.Params{"AccessKeyId": "LTAIbenchkey", "Signature": "c2lnbmF0dXJlc2lnbmF0dXJl", "SignatureMethod": "HMAC-SHA1",
		"SignatureVersion": "1.0", "SignatureNonce": "0123456789abcdef", "Timestamp": "2026-12-05T10:00:00Z", "Format": "JSON",
		"Version": "2014-05-26", "RegionId": "cn-hangzhou", "SecurityGroupId": "sg-bench0007", "IpProtocol": "TCP",
		"PortRange": "40007/40007", "SourceCidrIp": "192.0.2.0/24", "Policy": "accept", "Priority": "1"},
		"", "")
	c.Body = []byte(`{"RequestId":"` + c.Request.RequestID + `"}`) // as the server answers
	return c
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInsert is the writer's share alone: batches of events (made
// once, as EventOf makes an AuthorizeSecurityGroup call's) written to the
// file as the writer goroutine writes them, one transaction a batch.
func BenchmarkInsert(b *testing.B) {
	for _, n := range []int{64, batchSize} {
		b.Run(fmt.Sprint("batch=", n), func(b *testing.B) {
			st, err := openStore(filepath.Join(b.TempDir(), "events"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.close()
			evs := make([]Event, n)
			c := benchCall()
			for i := range evs {
				evs[i] = EventOf(c, "1000000000000001")
			}
			ctx := context.Background()
			start := time.Now()
			b.ResetTimer()
			cpu0 := processCPU()
			for j := 0; b.Loop(); j++ {
				for i := range evs { // later than the last batch's, as time goes
					evs[i].Time = start.Add(time.Duration(j*n+i) * time.Microsecond)
					evs[i].EventTime = formatTime(evs[i].Time)
				}
				if _, err := st.insert(ctx, evs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N*n), "cpu-ns/event")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}
