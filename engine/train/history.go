package train

// History is one training run's record, as the engine keeps it (it is also
// saved inside every checkpoint, as JSON with the field names below).
// transforms maps it to the results schema's history.json.
type History struct {
	Rule            string          `json:"rule"`
	Seed            int             `json:"seed"`
	Hyperparameters Hyperparameters `json:"hyperparameters"`
	// StepsPerEpoch is the number of optimiser steps in one epoch.
	StepsPerEpoch int     `json:"steps_per_epoch"`
	Epochs        []Epoch `json:"epochs"`
	Steps         Steps   `json:"steps"`
	// BestEpoch (1-based; 0 if no epoch completed) and BestValAcc are the
	// best-validation epoch so far; TestAcc is that checkpoint's test
	// accuracy (set at the end).
	BestEpoch  int     `json:"best_epoch"`
	BestValAcc float64 `json:"best_val_acc"`
	TestAcc    float64 `json:"test_acc"`
	// Diverged reports a NaN or Inf loss, at the 1-based global step
	// DivergedStep.
	Diverged     bool `json:"diverged"`
	DivergedStep int  `json:"diverged_step,omitempty"`
	// PerClassTest is the best model's test accuracy per class.
	PerClassTest []float64 `json:"per_class_test,omitempty"`
}

// Hyperparameters are a run's settings as its history records them.
type Hyperparameters struct {
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	Sigma       float64 `json:"sigma"`
	Epochs      int     `json:"epochs"`
	BatchSize   int     `json:"batch_size"`
}

// Epoch is one epoch's summary. Map keys are layer names; metrics that do
// not apply to a layer are absent.
type Epoch struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	ValAcc    float64 `json:"val_acc"`
	// LocalAngle and Concordance are means over the epoch's steps.
	LocalAngle  map[string]float64 `json:"local_angle,omitempty"`
	Concordance map[string]float64 `json:"concordance,omitempty"`
	// WBAngle is the angle between W and the operator B used in its place;
	// NormRatio is ‖B‖/‖W‖; both measured at the end of the epoch.
	WBAngle   map[string]float64 `json:"wb_angle,omitempty"`
	NormRatio map[string]float64 `json:"norm_ratio,omitempty"`
	// ErrorRMS, WeightGradRMS and UpdateRMS are the learning signal per
	// layer (Config.SignalMetrics): the root mean square, over every
	// element of every step of the epoch, of the error the rule delivered
	// to the layer's pre-ReLU output, of the layer's weight gradient, and
	// of Adam's update of the layer's weights divided by the learning
	// rate. Absent without SignalMetrics.
	ErrorRMS      map[string]float64 `json:"error_rms,omitempty"`
	WeightGradRMS map[string]float64 `json:"weight_grad_rms,omitempty"`
	UpdateRMS     map[string]float64 `json:"update_rms,omitempty"`
}

// Steps holds per-step series. LocalAngle and Concordance have one value
// per optimiser step; UpdateAngle has one value per entry of
// UpdateAngleSteps (1-based global steps, every K steps).
type Steps struct {
	LocalAngle       map[string][]float64 `json:"local_angle,omitempty"`
	Concordance      map[string][]float64 `json:"concordance,omitempty"`
	Loss             []float64            `json:"loss,omitempty"`
	UpdateAngleSteps []int                `json:"update_angle_steps,omitempty"`
	UpdateAngle      map[string][]float64 `json:"update_angle,omitempty"`
}
