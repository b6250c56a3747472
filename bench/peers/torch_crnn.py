"""The CRNN in PyTorch (CPU), matched to lib/model/build.ts: per time step its own
CNN (or one shared CNN with --shared), a tanh RNN of 256 units, a linear layer
to 19 classes with softmax cross-entropy, Adam 1e-3. Initialisers follow the
Keras/TF1 ones (Glorot-uniform, He-normal for the CNN's dense layer, zero
biases) so that the to-target runs start alike. nn.RNN has two bias vectors
where TF's cells have one: the hidden-to-hidden bias is frozen at zero, so the
trainable parameter count matches the TF models exactly.
Prints one JSON report; see common.py for the protocol."""
import os

import numpy as np
import torch
from torch import nn

from common import NUM_CLASSES, run_peer


def glorot(layer: nn.Module) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class Cnn(nn.Module):
    """[batch, 1, 28, 28] → [batch, 256]."""

    def __init__(self):
        super().__init__()
        dense = nn.Linear(7 * 7 * 16, 256)
        nn.init.trunc_normal_(dense.weight, std=(2 / dense.in_features) ** 0.5 / 0.87962566103423978,
                              a=-2 * (2 / dense.in_features) ** 0.5 / 0.87962566103423978,
                              b=2 * (2 / dense.in_features) ** 0.5 / 0.87962566103423978)
        nn.init.zeros_(dense.bias)
        self.layers = nn.Sequential(
            glorot(nn.Conv2d(1, 16, 3, padding='same')), nn.ELU(), nn.MaxPool2d(2, 2),
            glorot(nn.Conv2d(16, 16, 3, padding='same')), nn.ELU(), nn.MaxPool2d(2, 2),
            nn.Flatten(), dense, nn.ELU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Crnn(nn.Module):
    """xs [batch, T, 28, 28, 1] → logits [batch, 19]."""

    def __init__(self, seq_length: int, shared: bool):
        super().__init__()
        self.seq_length = seq_length
        self.shared = shared
        self.cnns = nn.ModuleList([Cnn() for _ in range(1 if shared else seq_length)])
        self.rnn = nn.RNN(256, 256, nonlinearity='tanh', batch_first=True)
        nn.init.xavier_uniform_(self.rnn.weight_ih_l0)
        nn.init.xavier_uniform_(self.rnn.weight_hh_l0)
        nn.init.zeros_(self.rnn.bias_ih_l0)
        nn.init.zeros_(self.rnn.bias_hh_l0)
        self.rnn.bias_hh_l0.requires_grad_(False)
        self.head = glorot(nn.Linear(256, NUM_CLASSES))

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        batch, steps = xs.shape[:2]
        images = xs.permute(0, 1, 4, 2, 3)  # NHWC → NCHW per step
        if self.shared:
            features = self.cnns[0](images.reshape(batch * steps, 1, 28, 28)).reshape(batch, steps, 256)
        else:
            features = torch.stack([self.cnns[t](images[:, t]) for t in range(steps)], dim=1)
        outputs, _ = self.rnn(features)
        return self.head(outputs[:, -1])


class TorchTrainer:
    def __init__(self, model: Crnn, learning_rate: float = 1e-3):
        self.model = model
        self.optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad],
                                          lr=learning_rate, betas=(0.9, 0.999), eps=1e-8)
        self.loss_fn = nn.CrossEntropyLoss()

    def train_step(self, xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
        self.model.train()
        inputs = torch.from_numpy(xs)
        targets = torch.from_numpy(ys).argmax(1)
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.model(inputs)
        loss = self.loss_fn(logits, targets)
        loss.backward()
        self.optimizer.step()
        accuracy = (logits.detach().argmax(1) == targets).float().mean()
        return float(loss.item()), float(accuracy.item())

    @torch.no_grad()
    def evaluate(self, xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
        self.model.eval()
        logits = self.model(torch.from_numpy(xs))
        targets = torch.from_numpy(ys).argmax(1)
        loss = self.loss_fn(logits, targets)
        return float(loss.item()), float((logits.argmax(1) == targets).float().mean().item())


def build(args):
    if args.threads:
        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(args.threads)
    torch.manual_seed(args.seed)
    model = Crnn(args.seq_length, args.shared)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return TorchTrainer(model), params, torch.get_num_threads()


def settings(args):
    return {
        # PyTorch runs its CPU convolutions through oneDNN (mkldnn) when it is built in and enabled;
        # TF_ENABLE_ONEDNN_OPTS is TensorFlow's and does not apply.
        'onednn': {'setting': os.environ.get('TF_ENABLE_ONEDNN_OPTS'),
                   'on': bool(torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled),
                   'source': 'torch.backends.mkldnn (TF_ENABLE_ONEDNN_OPTS does not apply)'},
        'threadsInUse': {'intraOp': torch.get_num_threads(), 'interOp': torch.get_num_interop_threads(),
                         'source': f'--threads {args.threads}' if args.threads else "PyTorch's default"},
    }


if __name__ == '__main__':
    run_peer('torch', 'PyTorch (CPU)', torch.__version__, build, settings)
