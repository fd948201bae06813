package auditmirror

import (
	"testing"

	"github.com/ml-connector/ml-connector/pkg/audit"
)

func TestChunks(t *testing.T) {
	rows := func(sizes ...int) []audit.Row {
		var out []audit.Row
		for _, n := range sizes {
			out = append(out, audit.Row{Data: make([]byte, n)})
		}
		return out
	}
	for _, c := range []struct {
		sizes []int
		want  []int
	}{
		{[]int{1, 2, 3}, []int{3}},
		{[]int{6, 6, 6}, []int{1, 1, 1}},
		{[]int{4, 5, 1, 9}, []int{3, 1}},
		{[]int{20}, []int{1}},
		{nil, []int{0}},
	} {
		got := chunks(rows(c.sizes...), 10)
		var lens []int
		for _, g := range got {
			lens = append(lens, len(g))
		}
		if len(lens) != len(c.want) {
			t.Errorf("chunks(%v) = %v, want %v", c.sizes, lens, c.want)
			continue
		}
		for i := range lens {
			if lens[i] != c.want[i] {
				t.Errorf("chunks(%v) = %v, want %v", c.sizes, lens, c.want)
			}
		}
	}
}
