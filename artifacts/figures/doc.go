// Package figures renders a fabeam run's figures (PNG, through
// gonum.org/v1/plot) and its report (report.html, report.md).
//
// # Figures
//
// Every figure function takes schema types from artifacts/results and
// returns PNG bytes. The paper's figure each one reproduces:
//
//	ValAccuracy     Fig. 2   validation accuracy per epoch per rule
//	LocalAngles     Fig. 3   local alignment angle per layer over steps
//	UpdateAngles    —        end-to-end update angle per layer (engine metric)
//	Concordance     Figs. 4, 7  sign(W) = sign(B0) fraction per layer
//	CKAHeatmap      Figs. 5, 8, 9  5×5 CKA matrix, value in each cell
//	ExemplarGrid    Fig. 6   rows rules, columns top channels, 3×3 images each
//	PerClassBars    —        per-class test accuracy, grouped bars
//	GridSearch      —        validation accuracy per grid point per rule
//	KnowledgeClaim  —        rules by knowledge of W vs test accuracy and diagonal CKA
//	Signal          —        RMS of error, weight gradient and Adam update per layer and epoch
//
// A function whose input holds nothing to draw returns an error wrapping
// ErrNoData; BuildFigures leaves such figures out, so a run without, say, a
// grid search still gets a report.
//
// # Maths
//
// Smoothing: EMA with ema[0] = x[0], ema[t] = α x[t] + (1-α) ema[t-1],
// α = 0.05 (EMAAlpha). Seeding with x[0] rather than 0 avoids the start-up
// bias that would make every curve rise from zero.
//
// Seeds: per-step series are averaged over seeds index by index (a seed
// that diverged early stops contributing); the faint raw line and the EMA
// are those of the mean. Validation accuracy is aligned by epoch number;
// with several seeds a band spans min..max over seeds (with 2–3 seeds a
// t-interval is wider than the data and says less than the raw spread).
//
// Table 1: MeanCI95 gives mean ± t_{0.975,n-1} s/√n, the two-sided 95%
// Student-t interval (quantile from gonum's distuv.StudentsT; the tests
// check it against a printed t table). One seed prints the bare value.
// Diverged seeds are kept (their best-val checkpoint predates divergence)
// and counted in a column of their own.
//
// Grid search table (HTML and Markdown, only when the run had a grid): one
// row per results.GridPoint in results order with its best validation
// accuracy and an outcome: "chosen" when its lr, weight decay and sigma are
// the rule's final hyper-parameters, "diverged at step N (last good epoch
// E)" for a diverged point (its accuracy "—" when E is 0), else empty.
//
// CKA: GroupCKA averages matrices elementwise over seeds per (rule,
// reference, subset); TooSmall entries are counted, not averaged. An entry
// whose rule equals its reference (bp vs bp of another seed) is the noise
// ceiling and is shown after the rules.
//
// Knowledge figure and table: results.knowledge (means and 95% half-widths
// computed as MeanCI95 does, over seeds) drawn as points with error bars,
// rules along x in knowledge order; bp's place in the CKA panel holds the
// noise ceiling when there is one. Signal figure: per rule the mean over
// seeds of each epoch's RMS, on a log axis (zeros cannot be drawn and are
// left out); SignalTable flags the first epoch at which that mean
// weight-gradient RMS falls below AdamEps (zeros included).
//
// # Decisions where the brief was silent
//
//   - bp is left out of LocalAngles and Concordance: its local angle is 0
//     by definition and it has no B0; drawing it only adds a flat line.
//   - Series longer than 1,500 steps draw their faint raw values as the
//     min..max envelope of 750 equal buckets of steps: at figure resolution
//     that is what the raw line looks like, and it keeps rendering 17,600
//     steps × rules × layers well under a second.
//   - Multi-panel figures carry one legend under the title instead of one
//     per panel, so no legend covers data.
//   - CKA heatmaps use ColorBrewer "Blues" on a fixed 0..1 scale, print
//     values as in the paper (".94"), and put conv1 at the top-left; no
//     colour bar, since every value is printed.
//   - Rule colours follow the Okabe–Ito colour-blind-safe palette and stay
//     fixed per rule across figures; display names are the paper's
//     ("FA (Random)"). Rules beyond the paper's five sort after them.
//   - Text uses gonum/plot's embedded Liberation fonts (no system fonts, no
//     network).
//
// # Determinism
//
// Output bytes depend only on the input: maps are iterated in sorted order,
// rendering is gonum/plot's software rasteriser and encoding is image/png.
// TestFiguresAreByteStable checks this.
//
// # Report
//
// Report gathers results, histories, the resolved configuration (ordered
// KV pairs), the efficiency rows (from manifest.json's measurements),
// rendered figures and the list of differences from the paper. HTML renders
// one self-contained page with html/template (figures as
// data:image/png;base64 URLs; no scripts, style sheets or fonts fetched),
// so every string from outside is escaped by the template. Markdown renders
// the same tables (cells escaped for Markdown, and <, >, & as entities) and
// references figures as figures/<name>.png, which the caller writes beside
// report.md. Paper numbers (PaperTable1, PaperCKA, PaperSubsetN) are
// package data copied from the paper (docs/paper.md).
//
// # Memory
//
// A figure is rendered in memory at DPI (110) or, for the exemplar grid, at
// one pixel per point: about 1,200×800 RGBA pixels (4 MB) per figure; the
// HTML page holds every PNG base64-encoded (a few MB for a full run).
package figures
