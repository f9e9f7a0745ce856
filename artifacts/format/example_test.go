package format_test

import (
	"bytes"
	"fmt"

	"github.com/fabeam/fabeam/artifacts/format"
)

func ExampleReadSafetensors() {
	var buf bytes.Buffer
	w := format.F32Tensor("fc3.weight", []int{2, 2}, []float32{1, 2, 3, 4})
	if err := format.WriteSafetensors(&buf, []format.Tensor{w}, map[string]string{"rule": "bp"}); err != nil {
		panic(err)
	}
	f, err := format.ReadSafetensors(bytes.NewReader(buf.Bytes()), int64(buf.Len()), format.Limits{})
	if err != nil {
		panic(err)
	}
	t, _ := f.Read("fc3.weight")
	v, _ := t.Float32s()
	fmt.Println(f.Meta["rule"], t.DType, t.Shape, v)
	// Output: bp F32 [2 2] [1 2 3 4]
}
