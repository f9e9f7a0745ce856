// Package cifar reads CIFAR-10 in its binary format, reproduces the paper's
// train/validation split bit for bit, turns images into the network's
// normalised 24×24 inputs, makes synthetic data in the same format for tests,
// and downloads the canonical archive.
//
// # Format
//
// The binary version of CIFAR-10 (Krizhevsky 2009,
// https://www.cs.toronto.edu/~kriz/cifar.html) is six files, data_batch_1.bin
// … data_batch_5.bin (training, 10,000 records each) and test_batch.bin
// (10,000). A record is 3,073 bytes: one label byte 0..9, then 1,024 red,
// 1,024 green and 1,024 blue bytes, each plane 32 rows of 32 pixels. A Set
// keeps the pixels in that (c,h,w) layout, n records back to back, and the
// labels apart. Read validates as it goes: the size must be a positive
// multiple of 3,073 and every label 0..9; errors name the file, the record and
// its byte offset, and say what to do. Load concatenates the five training
// files in order (50,000 images) and reads the test file (10,000). Load
// accepts any positive number of records per file, so synthetic directories
// load the same way; memory is the data (about 184 MB for the real set) plus
// one file.
//
// # The paper's split
//
// The paper splits the 50,000 training images with NumPy's legacy global
// generator:
//
//	np.random.seed(42); perm = np.random.permutation(50000)
//	train = perm[:45000]; val = perm[45000:]
//
// NumpyPermutation re-implements that exactly: MT19937 seeded by init_genrand
// (Matsumoto & Nishimura 1998, the 2002 reference seeding), then NumPy's
// legacy shuffle: for i = n-1 down to 1, j = random_interval(i), swap p[i] and
// p[j], where random_interval(max) draws 32-bit outputs, masks them with the
// smallest all-ones mask ≥ max and rejects values above max. Tests pin the
// first and last 20 values and the SHA-256 of the whole permutation against
// Debian's python3-numpy 1.24.2, plus other seeds and sizes, the generator's
// first outputs, and the C++ standard's 10,000th-output check of MT19937.
// On the real labels the validation set has class counts
// 510 487 502 474 524 503 505 534 499 462.
//
// Decision: for a training set of n ≠ 50,000 images (synthetic data),
// PaperSplit uses NumpyPermutation(42, n) and keeps the last n/10 for
// validation, so small runs follow the same rule.
//
// # Inputs to the network
//
// Each input is (3,24,24) float32 (InputSize = 1,728 values):
//
//	x[c,y,x] = (p/255 - Mean[c]) / Std[c],  p = img[c, dy+y, dx+x']
//	x' = 23-x if flipped else x
//	Mean = (0.4914, 0.4822, 0.4465), Std = (0.2470, 0.2435, 0.2616)
//
// computed in float32 in torchvision's order (ToTensor then Normalize), so
// the values equal PyTorch's bit for bit. Training (RandomCropFlip): dy, then
// dx, each uniform in 0..8 (a 24×24 window of the 32×32 image, no padding),
// then a horizontal flip with probability 1/2, i.e. torchvision's RandomCrop(24)
// followed by RandomHorizontalFlip. The three draws come from the caller's
// engine/rng stream in that order, exactly three per image. Validation and
// test (CenterCrop): the window at (4,4), no flip.
//
// # Synthetic data
//
// Synthetic and WriteSynthetic make images with balanced labels whose class
// shows in a per-class mean colour and stripe orientation/frequency, under
// per-pixel Gaussian noise and a random stripe phase; both survive cropping
// and flipping, so a small CNN learns them quickly (a nearest-class-mean
// classifier already reaches > 90%). WriteSynthetic writes real binary files,
// each drawn from its own engine/rng stream, so a directory is a pure
// function of (perFile, seed). Pixels use math.Sin, which is pure Go on
// amd64 and arm64.
//
// # Download
//
// Download fetches ArchiveURL (about 163 MB), hashes the bytes as they arrive
// while decoding the tar.gz, and writes the six members
// cifar-10-batches-bin/*.bin to temporary names in the data directory. Only
// after the whole body is read, the MD5 equals ArchiveMD5 and all six files
// are present with valid sizes are they renamed into place; otherwise the
// temporaries are deleted, so a failed download leaves nothing behind. The
// archive is never stored. (Each file is replaced atomically; the six renames
// are not one atomic step.) EnsureData downloads only when CheckDir fails;
// offline, its error says where to put the six files and which URL to fetch
// by hand. DownloadMD5 and EnsureDataMD5 take the expected MD5, so tests can
// serve a synthetic archive.
//
// CheckDir checks the format of the files, not their content: a copy whose
// test_batch.bin was rebuilt from other sources (for example from images
// decoded from JPEG) passes it, so EnsureData keeps it. TestFileMD5 is the
// official test batch's MD5; the study's report says when the test batch
// differs from it.
//
// This package imports no Beam and no cgo; programmer errors panic with the
// prefix "cifar: ".
package cifar
