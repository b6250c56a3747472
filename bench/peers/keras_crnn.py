"""The CRNN in tf.keras (TensorFlow 2.15), layer for layer the model of
lib/model/build.ts: per time step its own CNN (or, with --shared, one CNN through
TimeDistributed), SimpleRNN(256, tanh), dense softmax, Adam 1e-3, trained
with train_on_batch. Prints one JSON report; see common.py for the protocol."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import IMAGE_SIZE, NUM_CLASSES, run_peer, tensorflow_onednn, tensorflow_threads  # noqa: E402

keras = tf.keras
layers = keras.layers


def cnn_layers(prefix: str) -> list:
    # The article's dense layer uses TF1's variance_scaling_initializer()
    # (truncated normal, fan-in, factor 2): He-normal, to within 0.3% in stddev.
    conv = lambda name: layers.Conv2D(16, 3, strides=1, padding='same', activation='elu', name=name)
    return [
        conv(f'{prefix}_conv1'),
        layers.MaxPooling2D(2, 2, name=f'{prefix}_pool1'),
        conv(f'{prefix}_conv2'),
        layers.MaxPooling2D(2, 2, name=f'{prefix}_pool2'),
        layers.Flatten(name=f'{prefix}_flatten'),
        layers.Dense(256, activation='elu', kernel_initializer='he_normal', name=f'{prefix}_dense'),
    ]


def apply(stack: list, x):
    for layer in stack:
        x = layer(x)
    return x


def build_model(seq_length: int, shared: bool, learning_rate: float = 1e-3) -> keras.Model:
    inputs = keras.Input((seq_length, IMAGE_SIZE, IMAGE_SIZE, 1), name='digit_sequence')
    if shared:
        features = apply([layers.TimeDistributed(l, name=f'td_{l.name}') for l in cnn_layers('shared')], inputs)
    else:
        steps = []
        for t in range(seq_length):
            image = layers.Lambda(lambda x, t=t: x[:, t], name=f'step{t}_slice')(inputs)
            steps.append(layers.Reshape((1, 256), name=f'step{t}_expand')(apply(cnn_layers(f'step{t}'), image)))
        features = layers.Concatenate(axis=1, name='stack_steps')(steps)
    last = layers.SimpleRNN(256, activation='tanh', recurrent_initializer='glorot_uniform', name='rnn')(features)
    outputs = layers.Dense(NUM_CLASSES, activation='softmax', name='class_probabilities')(last)
    model = keras.Model(inputs, outputs, name='crnn')
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8),
                  loss='categorical_crossentropy', metrics=['accuracy'])
    return model


class KerasTrainer:
    def __init__(self, model: keras.Model):
        self.model = model

    def train_step(self, xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
        loss, accuracy = self.model.train_on_batch(xs, ys)
        return float(loss), float(accuracy)

    def evaluate(self, xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
        probabilities = self.model.predict_on_batch(xs)
        # The same clipping as Keras's categorical cross-entropy.
        loss = -np.mean(np.sum(ys * np.log(np.clip(probabilities, 1e-7, 1 - 1e-7)), 1))
        return float(loss), float(np.mean(np.argmax(probabilities, 1) == np.argmax(ys, 1)))


def build(args):
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)
    model = build_model(args.seq_length, args.shared)
    return KerasTrainer(model), int(model.count_params()), args.threads


def settings(args):
    return {'onednn': tensorflow_onednn(), 'threadsInUse': tensorflow_threads(args.threads)}


if __name__ == '__main__':
    run_peer('keras', 'tf.keras', tf.__version__, build, settings)
