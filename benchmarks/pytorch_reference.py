#!/usr/bin/env python3
"""PyTorch reference for bench_epoch: the same two models, initialisation, hyperparameters, data files and on-device
data pipeline, timed the same way (one warm-up epoch, then CUDA events per epoch, median), in eager mode and with
each full training step captured once as a CUDA graph and replayed.

    python3 benchmarks/pytorch_reference.py --model mlp --mode both --epochs 5 --json torch_mlp.json

Prints one JSON object per (model, mode), and writes the list to --json. On a machine without CUDA it runs eager
mode on the CPU and reports graph mode as skipped, with the reason.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
except ImportError:
    sys.exit("pytorch_reference.py: PyTorch is not installed (pip install torch, or apt-get install python3-torch)")

from reference_files import DEFAULT_DATA, UsageError, cpu_name, exit_code, fashion_mnist, write_json


def load(directory):
    """The four Fashion-MNIST files as uint8 tensors."""
    return [torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(dims)
            for dims, body in fashion_mnist(directory)]


def make_model(name):
    if name == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        model = nn.Sequential(
            nn.Conv2d(1, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
    # Keras's defaults, as loom uses them: Glorot-uniform kernels, zero biases.
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
    return model


def training_flops_per_sample(name):
    """Forward, weight-gradient and input-gradient FLOPs, with the first layer's input gradient skipped (as loom)."""
    if name == "mlp":
        macs = [784 * 128, 128 * 10]
    else:
        macs = [26 * 26 * 64 * 9, 11 * 11 * 64 * 9 * 64, 1600 * 128, 128 * 10]
    return sum(2 * m * (2 if i == 0 else 3) for i, m in enumerate(macs))


class Trainer:
    """Data on the device as uint8; each step gathers a shuffled batch by index and scales it by 1/255."""

    def __init__(self, name, device, batch, images, labels, seed):
        torch.manual_seed(seed)
        self.device, self.batch, self.cnn = device, batch, name == "cnn"
        self.model = make_model(name).to(device)
        capturable = device.type == "cuda"
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7,
                                          capturable=capturable)
        self.loss_fn = nn.CrossEntropyLoss()
        self.images = images.to(device)
        self.labels = labels.to(device).long()
        self.totals = torch.zeros(2, device=device)  # loss sum, correct count
        self.index = torch.zeros(batch, dtype=torch.long, device=device)
        self.graph = None

    def step(self, index):
        x = self.images[index].float().mul_(1.0 / 255.0)
        if self.cnn:
            x = x.unsqueeze(1)
        y = self.labels[index]
        logits = self.model(x)
        loss = self.loss_fn(logits, y)
        self.optimizer.zero_grad(set_to_none=False)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            self.totals[0] += loss.detach() * index.numel()
            self.totals[1] += (logits.argmax(1) == y).sum()

    def capture(self, warmup_index):
        """Warm up on a side stream (as PyTorch's CUDA-graph guide asks), then capture one full step."""
        self.index.copy_(warmup_index)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self.step(self.index)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.step(self.index)

    def epoch(self, order, max_steps, use_graph):
        """Enqueues one epoch; returns the number of samples. Read the totals only after timing stops."""
        n = order.numel() if max_steps == 0 else min(order.numel(), max_steps * self.batch)
        self.totals.zero_()
        for begin in range(0, n, self.batch):
            index = order[begin:min(begin + self.batch, n)]
            if use_graph and index.numel() == self.batch:
                self.index.copy_(index)
                self.graph.replay()
            else:
                self.step(index)
        return n

    def epoch_means(self, n):
        loss_sum, correct = self.totals.tolist()
        return loss_sum / n, correct / n

    @torch.no_grad()
    def evaluate(self, images, labels):
        x = images.to(self.device).float() / 255.0
        if self.cnn:
            x = x.unsqueeze(1)
        logits = self.model(x)
        y = labels.to(self.device).long()
        return self.loss_fn(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def run(name, mode, args, data, device):
    images, labels, test_images, test_labels = data
    trainer = Trainer(name, device, args.batch_size, images, labels, args.seed)
    probe = (test_images[:1000], test_labels[:1000])
    initial_loss, _ = trainer.evaluate(*probe)
    use_graph = mode == "graph"
    generator = torch.Generator().manual_seed(args.seed)
    if use_graph:  # the capture's warm-up steps train too, on a real batch, as loom's first eager step does
        trainer.capture(torch.randperm(images.shape[0], generator=generator)[:args.batch_size].to(device))
    epoch_ms, history = [], []
    for epoch in range(args.epochs + 1):
        order = torch.randperm(images.shape[0], generator=generator).to(device)
        if device.type == "cuda":
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            samples = trainer.epoch(order, args.max_steps, use_graph)
            stop.record()
            stop.synchronize()
            ms = start.elapsed_time(stop)
        else:
            t0 = time.perf_counter()
            samples = trainer.epoch(order, args.max_steps, use_graph)
            ms = (time.perf_counter() - t0) * 1e3
        loss, accuracy = trainer.epoch_means(samples)
        history.append((loss, accuracy))
        if epoch > 0:  # the first epoch is the warm-up
            epoch_ms.append(ms)
    loss_after, accuracy_after = trainer.evaluate(*probe)
    min_accuracy = 0.25 if 0 < args.max_steps < 500 else 0.7  # short smoke runs: well above chance (0.1)
    if not (loss_after < initial_loss and history[0][1] > min_accuracy):
        raise RuntimeError(f"{name}/{mode}: training does not work: loss {initial_loss:.4f} -> {loss_after:.4f}, "
                           f"warm-up accuracy {history[0][1]:.4f}")
    steps = math.ceil(samples / args.batch_size)
    ms = statistics.median(epoch_ms)
    flops_per_step = training_flops_per_sample(name) * args.batch_size
    result = {
        "program": "pytorch_reference", "framework": f"PyTorch {torch.__version__}", "model": name, "mode": mode,
        "device": device.type,
        "hardware": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "batch_size": args.batch_size, "steps_per_epoch": steps, "epoch_ms": epoch_ms,
        "ms_per_epoch_median": ms, "us_per_step": ms * 1e3 / steps, "images_per_s": samples / (ms * 1e-3),
        "flops_per_step": flops_per_step, "achieved_tflops": flops_per_step * steps / (ms * 1e-3) / 1e12,
        "validation": {"initial_loss": initial_loss, "loss_after": loss_after, "accuracy_after": accuracy_after,
                       "warmup_epoch_loss": history[0][0], "warmup_epoch_accuracy": history[0][1]},
    }
    if device.type == "cuda":
        result["peak_device_bytes"] = torch.cuda.max_memory_allocated(device)
    else:
        result["cpu_threads"] = torch.get_num_threads()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["mlp", "cnn", "both"], default="both")
    parser.add_argument("--mode", choices=["eager", "graph", "both"], default="both")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs, after one warm-up epoch")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-steps", type=int, default=0, help="steps per epoch (0: the whole training set)")
    parser.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    parser.add_argument("--data", default=os.environ.get("FASHION_MNIST_DIR") or DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tf32", action="store_true", help="allow TF32 in matmuls and convolutions")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads (torch.set_num_threads); 0: PyTorch's default (every physical core)")
    parser.add_argument("--json", help="write the list of results here")
    args = parser.parse_args()

    def measure():
        if args.epochs < 1 or args.batch_size < 1 or args.max_steps < 0:
            raise UsageError("--epochs and --batch-size must be at least 1, --max-steps at least 0")
        if args.threads < 0:
            raise UsageError("--threads must be at least 1 (or 0: PyTorch's default)")
        if args.threads:
            torch.set_num_threads(args.threads)
        if args.device == "cuda" and not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device found")
        device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
        data = load(args.data)
        results = []
        for name in (["mlp", "cnn"] if args.model == "both" else [args.model]):
            for mode in (["eager", "graph"] if args.mode == "both" else [args.mode]):
                if mode == "graph" and device.type != "cuda":
                    result = {"program": "pytorch_reference", "model": name, "mode": mode,
                              "skipped": "CUDA graphs need a CUDA device; none found"}
                else:
                    result = run(name, mode, args, data, device)
                print(json.dumps(result), flush=True)
                results.append(result)
        if args.json:
            write_json(args.json, results)

    return exit_code("pytorch_reference.py", measure)


if __name__ == "__main__":
    sys.exit(main())
