//go:build !purego

package gemm

import (
	"os"
	"strings"
	"testing"
)

// Vendor must name the maker the operating system reads from the CPU
// (vendor_id in /proc/cpuinfo).
func TestVendorMatchesProcCPUInfo(t *testing.T) {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skipf("no /proc/cpuinfo: %v", err)
	}
	found, want := false, ""
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "vendor_id" {
			continue
		}
		found = true
		switch strings.TrimSpace(v) {
		case "AuthenticAMD":
			want = "AMD"
		case "GenuineIntel":
			want = "Intel"
		}
		break
	}
	if !found {
		t.Skip("/proc/cpuinfo has no vendor_id line")
	}
	if got := Vendor(); got != want {
		t.Fatalf("Vendor() = %q, /proc/cpuinfo says %q", got, want)
	}
}
