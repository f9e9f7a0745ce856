package figures

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	vgdraw "gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// CIFAR image geometry: 32×32 RGB stored channel-major (CHW), 3072 bytes.
const (
	imgSide  = 32
	imgBytes = 3 * imgSide * imgSide
)

// ExemplarRow is one row of the exemplar grid: a rule and its top channels.
type ExemplarRow struct {
	Rule     string
	Channels []ExemplarCell
}

// ExemplarCell is one channel's top-activating images: up to 9 CIFAR
// images, 32×32 RGB in CHW layout (3072 bytes each), highest activation
// first; they fill a 3×3 block row by row.
type ExemplarCell struct {
	Layer   string
	Channel int
	Images  [][]uint8
}

// chwToRGBA upscales one CHW image by scale (nearest neighbour) into dst at
// (x0, y0).
func chwToRGBA(dst *image.RGBA, x0, y0 int, b []uint8, scale int) {
	const plane = imgSide * imgSide
	for y := range imgSide {
		for x := range imgSide {
			c := color.RGBA{b[y*imgSide+x], b[plane+y*imgSide+x], b[2*plane+y*imgSide+x], 255}
			r := image.Rect(x0+x*scale, y0+y*scale, x0+(x+1)*scale, y0+(y+1)*scale)
			draw.Draw(dst, r, &image.Uniform{c}, image.Point{}, draw.Src)
		}
	}
}

// ExemplarGrid draws the paper's Fig. 6: one row per rule, one cell per top
// channel, each cell a 3×3 block of the channel's top-activating images,
// every image upscaled scale times by pixel replication (no smoothing, so
// the 32×32 pixels stay visible). Each cell is headed "layer ch N". Rows
// with fewer channels than the widest row leave their trailing cells empty;
// cells with fewer than 9 images show grey slots.
//
// It panics if scale is outside [1, 16] and returns an error naming the
// rule, channel and image when an image is not 3072 bytes or a cell has
// more than 9 images.
func ExemplarGrid(rows []ExemplarRow, scale int) ([]byte, error) {
	if scale < 1 || scale > 16 {
		panic(fmt.Sprintf("figures: ExemplarGrid scale %d outside [1, 16]", scale))
	}
	cols := 0
	for _, r := range rows {
		cols = max(cols, len(r.Channels))
		for _, c := range r.Channels {
			if len(c.Images) > 9 {
				return nil, fmt.Errorf("figures: ExemplarGrid: rule %q %s channel %d has %d images; the grid shows at most 9", r.Rule, c.Layer, c.Channel, len(c.Images))
			}
			for i, im := range c.Images {
				if len(im) != imgBytes {
					return nil, fmt.Errorf("figures: ExemplarGrid: rule %q %s channel %d image %d has %d bytes, want %d (32×32 RGB, CHW); check the dataset artifact it was read from",
						r.Rule, c.Layer, c.Channel, i, len(im), imgBytes)
				}
			}
		}
	}
	if len(rows) == 0 || cols == 0 {
		return nil, fmt.Errorf("figures: ExemplarGrid: %w", ErrNoData)
	}

	// Layout in pixels (the canvas is 72 dpi, so one point is one pixel).
	gap := max(1, scale/2) // between images of a block
	side := imgSide * scale
	cellW := 3*side + 2*gap
	const (
		left, right = 150, 16
		titleH      = 44
		headH       = 24
		rowGap      = 14
		cellGap     = 24
	)
	W := left + cols*cellW + (cols-1)*cellGap + right
	H := titleH + len(rows)*(headH+cellW+rowGap)

	c := vgimg.NewWith(vgimg.UseWH(vg.Length(W), vg.Length(H)), vgimg.UseDPI(72))
	dc := vgdraw.New(c)
	base := plot.New().Title.TextStyle
	txt := func(size float64, xa vgdraw.XAlignment, x, yTop int, s string) {
		sty := base
		sty.Font.Size = vg.Points(size)
		sty.XAlign = xa
		sty.YAlign = vgdraw.YCenter
		dc.FillText(sty, vg.Point{X: vg.Length(x), Y: vg.Length(H - yTop)}, s)
	}
	txt(18, vgdraw.XCenter, W/2, titleH/2, "Top-activating test images of the most important channels (rows: rules)")
	type place struct {
		x, y int
		b    []uint8
	}
	var ims []place
	var empty []image.Rectangle
	for i, r := range rows {
		y0 := titleH + i*(headH+cellW+rowGap)
		txt(15, vgdraw.XRight, left-12, y0+headH+cellW/2, RuleName(r.Rule))
		for j, cell := range r.Channels {
			x0 := left + j*(cellW+cellGap)
			txt(12, vgdraw.XCenter, x0+cellW/2, y0+headH/2, fmt.Sprintf("%s ch %d", cell.Layer, cell.Channel))
			for k := range 9 {
				x := x0 + (k%3)*(side+gap)
				y := y0 + headH + (k/3)*(side+gap)
				if k < len(cell.Images) {
					ims = append(ims, place{x, y, cell.Images[k]})
				} else {
					empty = append(empty, image.Rect(x, y, x+side, y+side))
				}
			}
		}
	}
	dst, ok := c.Image().(*image.RGBA)
	if !ok {
		panic("figures: vgimg canvas is not backed by *image.RGBA")
	}
	for _, p := range ims {
		chwToRGBA(dst, p.x, p.y, p.b, scale)
	}
	for _, r := range empty {
		draw.Draw(dst, r, &image.Uniform{color.RGBA{200, 200, 200, 255}}, image.Point{}, draw.Src)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, dst); err != nil {
		return nil, fmt.Errorf("figures: ExemplarGrid: encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}
