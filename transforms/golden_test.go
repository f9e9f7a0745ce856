package transforms

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The golden smoke results: results.json of the smoke preset run on the
// direct runner, and the FormatVersion it was made under. They pin the
// study's numbers across refactors: any change to results.json while
// FormatVersion stays the same is a bug.
//
// To regenerate them on purpose (after bumping FormatVersion because the
// numerics or the layout changed), run
//
//	FABEAM_UPDATE_GOLDEN=1 go test ./transforms -run TestSmokeResultsMatchTheGolden
//
// and commit both files.
const (
	goldenResults       = "testdata/golden/smoke-results.json"
	goldenFormatVersion = "testdata/golden/smoke-results.format_version"
	updateGoldenEnv     = "FABEAM_UPDATE_GOLDEN"
)

func TestSmokeResultsMatchTheGolden(t *testing.T) {
	got := referenceResults(t)
	if os.Getenv(updateGoldenEnv) == "1" {
		if err := os.MkdirAll(filepath.Dir(goldenResults), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenResults, got, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFormatVersion, []byte(strconv.Itoa(FormatVersion)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s and %s (FormatVersion %d)", goldenResults, goldenFormatVersion, FormatVersion)
		return
	}
	checkGolden(t, got, FormatVersion)
}

// checkGolden compares results (made under version) with the golden files.
func checkGolden(t *testing.T, results []byte, version int) {
	t.Helper()
	if err := compareGolden(results, version); err != nil {
		t.Fatal(err)
	}
}

// compareGolden returns an error if version is not the golden's recorded
// FormatVersion, or if results differ from the golden results.json.
func compareGolden(results []byte, version int) error {
	vb, err := os.ReadFile(goldenFormatVersion)
	if err != nil {
		return err
	}
	recorded, err := strconv.Atoi(strings.TrimSpace(string(vb)))
	if err != nil {
		return &goldenError{"golden " + goldenFormatVersion + " does not hold a number: " + err.Error()}
	}
	if recorded != version {
		return &goldenError{"FormatVersion is " + strconv.Itoa(version) + " but the golden smoke results were made under " +
			strconv.Itoa(recorded) + ": regenerate them on purpose with " + updateGoldenEnv + "=1 (see golden_test.go) and commit them"}
	}
	want, err := os.ReadFile(goldenResults)
	if err != nil {
		return err
	}
	if !bytes.Equal(results, want) {
		return &goldenError{"smoke results.json differs from the golden " + goldenResults + " while FormatVersion (" +
			strconv.Itoa(version) + ") is unchanged: " + firstDiff(results, want) +
			"; if the change is intended, bump FormatVersion and regenerate with " + updateGoldenEnv + "=1"}
	}
	return nil
}

type goldenError struct{ msg string }

func (e *goldenError) Error() string { return e.msg }

// The check itself must fail on a changed byte or a changed version.
func TestGoldenCheckFailsOnAnyDifference(t *testing.T) {
	want, err := os.ReadFile(goldenResults)
	if err != nil {
		t.Fatal(err)
	}
	if err := compareGolden(want, FormatVersion); err != nil {
		t.Fatalf("the golden does not match itself: %v", err)
	}
	changed := bytes.Clone(want)
	i := bytes.IndexByte(changed, '0')
	if i < 0 {
		t.Fatal("golden results hold no digit 0")
	}
	changed[i] = '1'
	if err := compareGolden(changed, FormatVersion); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("a changed digit passed the golden check (err %v)", err)
	}
	if err := compareGolden(want, FormatVersion+1); err == nil || !strings.Contains(err.Error(), updateGoldenEnv) {
		t.Errorf("a bumped FormatVersion passed the golden check (err %v)", err)
	}
}
