package results

// History is one training run's history.json.
type History struct {
	Rule            string          `json:"rule"`
	Seed            int             `json:"seed"`
	Hyperparameters Hyperparameters `json:"hyperparameters"`
	// StepsPerEpoch is the number of optimiser steps in one epoch.
	StepsPerEpoch int     `json:"steps_per_epoch"`
	Epochs        []Epoch `json:"epochs"`
	Steps         Steps   `json:"steps"`
	BestEpoch     int     `json:"best_epoch"`
	BestValAcc    float64 `json:"best_val_acc"`
	TestAcc       float64 `json:"test_acc"`
	Diverged      bool    `json:"diverged"`
	DivergedStep  int     `json:"diverged_step,omitempty"`
	// PerClassTest is the best model's test accuracy per class.
	PerClassTest []float64 `json:"per_class_test,omitempty"`
}

// Epoch is one epoch's summary. Map keys are layer names.
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
	// layer, recorded by final runs only: the root mean square, over every
	// element of every optimiser step of the epoch, of the error arriving
	// at the layer's pre-ReLU output (∂L/∂pre-activation as the rule
	// delivers it), of the layer's weight gradient (biases excluded), and
	// of Adam's update of those weights divided by the learning rate,
	// m̂/(√v̂ + ε).
	ErrorRMS      map[string]float64 `json:"error_rms,omitempty"`
	WeightGradRMS map[string]float64 `json:"weight_grad_rms,omitempty"`
	UpdateRMS     map[string]float64 `json:"update_rms,omitempty"`
}

// Steps holds per-step series. LocalAngle and Concordance have one value per
// optimiser step; UpdateAngle has one value per entry of UpdateAngleSteps
// (1-based global steps, every K steps).
type Steps struct {
	LocalAngle       map[string][]float64 `json:"local_angle,omitempty"`
	Concordance      map[string][]float64 `json:"concordance,omitempty"`
	Loss             []float64            `json:"loss,omitempty"`
	UpdateAngleSteps []int                `json:"update_angle_steps,omitempty"`
	UpdateAngle      map[string][]float64 `json:"update_angle,omitempty"`
}
