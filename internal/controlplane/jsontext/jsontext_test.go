package jsontext

import (
	"bytes"
	"encoding/json"
	"testing"
)

// encoded is s as encoding/json writes it with HTML escaping off.
func encoded(t testing.TB, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnew\nline\rret\bback\fform",
		"\x00\x01\x1f\x7f", "U+2028 \u2028 U+2029 \u2029", "bad \xff\xfe utf-8", "中文 ✓", "\xe2\x80",
	} {
		if got, want := AppendString([]byte("x"), s), append([]byte("x"), encoded(t, s)...); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("a\"b\\c\x00\u2028\xff<&>")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := AppendString(nil, s), encoded(t, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}
