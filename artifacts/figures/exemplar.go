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
	cols, err := exemplarColumns(rows)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || cols == 0 {
		return nil, fmt.Errorf("figures: ExemplarGrid: %w", ErrNoData)
	}
	lay := newExemplarLayout(scale, cols, len(rows))
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(lay.W), vg.Length(lay.H)), vgimg.UseDPI(72))
	ims, empty := drawExemplarLabels(vgdraw.New(c), lay, rows)
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

// exemplarColumns checks every cell of rows (at most 9 images, each 3072
// bytes) and returns the number of cells in the widest row.
func exemplarColumns(rows []ExemplarRow) (int, error) {
	cols := 0
	for _, r := range rows {
		cols = max(cols, len(r.Channels))
		for _, c := range r.Channels {
			if len(c.Images) > 9 {
				return 0, fmt.Errorf("figures: ExemplarGrid: rule %q %s channel %d has %d images; the grid shows at most 9", r.Rule, c.Layer, c.Channel, len(c.Images))
			}
			for i, im := range c.Images {
				if len(im) != imgBytes {
					return 0, fmt.Errorf("figures: ExemplarGrid: rule %q %s channel %d image %d has %d bytes, want %d (32×32 RGB, CHW); check the dataset artifact it was read from",
						r.Rule, c.Layer, c.Channel, i, len(im), imgBytes)
				}
			}
		}
	}
	return cols, nil
}

// The exemplar grid's fixed margins in pixels: the rule-name column on the
// left, the right margin, the title band, a cell's heading, and the gaps
// between rows and between cells.
const (
	exemplarLeft, exemplarRight = 150, 16
	exemplarTitleH              = 44
	exemplarHeadH               = 24
	exemplarRowGap              = 14
	exemplarCellGap             = 24
)

// exemplarLayout is the exemplar grid's geometry in pixels (the canvas is
// 72 dpi, so one point is one pixel): gap between images of a block, side
// of one upscaled image, width (and height) of a 3×3 cell, and the canvas
// size W×H.
type exemplarLayout struct {
	gap, side, cellW int
	W, H             int
}

// newExemplarLayout sizes a grid of rows × cols cells at the given scale.
func newExemplarLayout(scale, cols, rows int) exemplarLayout {
	l := exemplarLayout{gap: max(1, scale/2), side: imgSide * scale}
	l.cellW = 3*l.side + 2*l.gap
	l.W = exemplarLeft + cols*l.cellW + (cols-1)*exemplarCellGap + exemplarRight
	l.H = exemplarTitleH + rows*(exemplarHeadH+l.cellW+exemplarRowGap)
	return l
}

// exemplarPlace is where one image of the grid goes: its top-left pixel and
// its CHW bytes.
type exemplarPlace struct {
	x, y int
	b    []uint8
}

// drawExemplarLabels writes the title, each row's rule name and each cell's
// "layer ch N" heading onto dc, and returns where every image goes and the
// rectangles of the empty slots, to be filled in pixels afterwards.
func drawExemplarLabels(dc vgdraw.Canvas, lay exemplarLayout, rows []ExemplarRow) ([]exemplarPlace, []image.Rectangle) {
	base := plot.New().Title.TextStyle
	txt := func(size float64, xa vgdraw.XAlignment, x, yTop int, s string) {
		sty := base
		sty.Font.Size = vg.Points(size)
		sty.XAlign = xa
		sty.YAlign = vgdraw.YCenter
		dc.FillText(sty, vg.Point{X: vg.Length(x), Y: vg.Length(lay.H - yTop)}, s)
	}
	txt(18, vgdraw.XCenter, lay.W/2, exemplarTitleH/2, "Top-activating test images of the most important channels (rows: rules)")
	var ims []exemplarPlace
	var empty []image.Rectangle
	for i, r := range rows {
		y0 := exemplarTitleH + i*(exemplarHeadH+lay.cellW+exemplarRowGap)
		txt(15, vgdraw.XRight, exemplarLeft-12, y0+exemplarHeadH+lay.cellW/2, RuleName(r.Rule))
		for j, cell := range r.Channels {
			x0 := exemplarLeft + j*(lay.cellW+exemplarCellGap)
			txt(12, vgdraw.XCenter, x0+lay.cellW/2, y0+exemplarHeadH/2, fmt.Sprintf("%s ch %d", cell.Layer, cell.Channel))
			for k := range 9 {
				x := x0 + (k%3)*(lay.side+lay.gap)
				y := y0 + exemplarHeadH + (k/3)*(lay.side+lay.gap)
				if k < len(cell.Images) {
					ims = append(ims, exemplarPlace{x, y, cell.Images[k]})
				} else {
					empty = append(empty, image.Rect(x, y, x+lay.side, y+lay.side))
				}
			}
		}
	}
	return ims, empty
}
