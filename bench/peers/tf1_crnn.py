"""The CRNN as the article builds it, TF1 style, through tf.compat.v1 on
TensorFlow 2.15: a graph with placeholders for a time-major input
[seq_length, batch, 28, 28, 1], the CNN made with tf.compat.v1.layers inside a
Python loop over the time steps (so each step gets its own weights, unless
--shared reuses the first step's), the per-step features fed to a
BasicRNNCell(256) unrolled with static_rnn, dense(19), softmax cross-entropy,
Adam 1e-3, run in a Session. Prints one JSON report; see common.py."""
import os
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
warnings.filterwarnings('ignore')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import IMAGE_SIZE, NUM_CLASSES, run_peer, tensorflow_onednn, tensorflow_threads  # noqa: E402

v1 = tf.compat.v1
v1.disable_eager_execution()
v1.logging.set_verbosity(v1.logging.ERROR)


class Tf1Trainer:
    def __init__(self, seq_length: int, shared: bool, threads: int, seed: int, learning_rate: float = 1e-3):
        self.graph = tf.Graph()
        with self.graph.as_default():
            v1.set_random_seed(seed)
            self.xs = v1.placeholder(tf.float32, [seq_length, None, IMAGE_SIZE, IMAGE_SIZE, 1], name='xs')
            self.ys = v1.placeholder(tf.float32, [None, NUM_CLASSES], name='ys')
            features = []
            for t in range(seq_length):
                scope = 'cnn' if shared else f'cnn_step{t}'
                with v1.variable_scope(scope, reuse=shared and t > 0):
                    x = v1.layers.conv2d(self.xs[t], 16, [3, 3], padding='same', activation=tf.nn.elu, name='conv1')
                    x = v1.layers.max_pooling2d(x, [2, 2], [2, 2], name='pool1')
                    x = v1.layers.conv2d(x, 16, [3, 3], padding='same', activation=tf.nn.elu, name='conv2')
                    x = v1.layers.max_pooling2d(x, [2, 2], [2, 2], name='pool2')
                    x = v1.layers.flatten(x, name='flatten')
                    # tf.contrib's variance_scaling_initializer() default: fan-in, factor 2, truncated normal.
                    x = v1.layers.dense(x, 256, activation=tf.nn.elu, name='dense',
                                        kernel_initializer=v1.variance_scaling_initializer(
                                            2.0, 'fan_in', 'truncated_normal'))
                features.append(x)
            cell = v1.nn.rnn_cell.BasicRNNCell(256)
            outputs, _ = v1.nn.static_rnn(cell, features, dtype=tf.float32)
            logits = v1.layers.dense(outputs[-1], NUM_CLASSES, name='class_logits')
            self.loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=self.ys, logits=logits))
            correct = tf.equal(tf.argmax(logits, 1), tf.argmax(self.ys, 1))
            self.accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
            self.train_op = v1.train.AdamOptimizer(learning_rate, 0.9, 0.999, 1e-8).minimize(self.loss)
            self.params = int(sum(np.prod(v.shape) for v in v1.trainable_variables()))
            config = v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads)
            self.session = v1.Session(graph=self.graph, config=config)
            self.session.run(v1.global_variables_initializer())
        self.graph.finalize()

    def train_step(self, xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
        # The graph is time-major, as in the article: [T, batch, 28, 28, 1].
        loss, accuracy, _ = self.session.run([self.loss, self.accuracy, self.train_op],
                                             {self.xs: xs.swapaxes(0, 1), self.ys: ys})
        return float(loss), float(accuracy)

    def evaluate(self, xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
        loss, accuracy = self.session.run([self.loss, self.accuracy], {self.xs: xs.swapaxes(0, 1), self.ys: ys})
        return float(loss), float(accuracy)


def build(args):
    trainer = Tf1Trainer(args.seq_length, args.shared, args.threads, args.seed)
    return trainer, trainer.params, args.threads


def settings(args):
    # The Session's ConfigProto takes --threads; 0 leaves TensorFlow's default.
    return {'onednn': tensorflow_onednn(), 'threadsInUse': tensorflow_threads(args.threads)}


if __name__ == '__main__':
    run_peer('tf1', 'tf.compat.v1 (graph + Session)', tf.__version__, build, settings)
