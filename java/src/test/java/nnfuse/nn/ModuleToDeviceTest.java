package nnfuse.nn;

import static nnfuse.nn.Fixtures.toDoubles;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Map;
import nnfuse.DType;
import nnfuse.Device;
import nnfuse.Nnfuse;
import nnfuse.Tensor;
import nnfuse.testing.TestData;
import nnfuse.testing.Tolerance;
import org.junit.jupiter.api.Test;

/**
 * {@link Module#to}: the worksheet model moved to a CUDA device trains as it does on the CPU, buffers move
 * with their module, and a move to where the tensors already are changes nothing. The CUDA part runs where a
 * CUDA device exists (the suite on the CUDA harness, a GPU).
 */
class ModuleToDeviceTest {
    private static final long SEED = 7;
    /** The worksheet model's forward against numpy uses the same bound: products of 52 to 256 terms. */
    private static final Tolerance MODEL = Tolerance.of(5e-6, 5e-6);

    @Test
    void aMoveToTheTensorsOwnDeviceKeepsThem() {
        try (Sequential model = Models.discussion04(true, SEED)) {
            Device here = model.parameters().getFirst().data().device();
            Tensor weight = model.parameters().getFirst().data();
            assertSame(model, model.to(here));
            assertSame(weight, model.parameters().getFirst().data());
            assertThrows(IllegalArgumentException.class, () -> model.to(null));
        }
    }

    @Test
    void theWorksheetModelTrainsOnCudaAsOnTheCpu() {
        assumeTrue(Nnfuse.cudaDeviceCount() > 0, "no CUDA device");
        Device cuda = Device.cuda(0);
        float[] input = TestData.normal(11, 4 * 52, 0, 1);
        long[] labels = {3, 999, 0, 512};
        try (Sequential cpu = Models.discussion04(true, SEED); Sequential gpu = Models.discussion04(true, SEED)) {
            cpu.to(Device.CPU);
            gpu.to(cuda);
            Map<String, Parameter> gpuParameters = gpu.namedParameters();
            gpuParameters.values().forEach(p -> assertEquals(cuda, p.data().device()));
            float[] cpuLogits = step(cpu, Device.CPU, input, labels);
            float[] gpuLogits = step(gpu, cuda, input, labels);
            MODEL.assertClose("model.to(cuda) logits", toDoubles(cpuLogits), gpuLogits);
            cpu.namedParameters().forEach((name, p) -> MODEL.assertClose("model.to(cuda) " + name + " after a step",
                    toDoubles(p.data().toFloatArray()), gpuParameters.get(name).data().toFloatArray()));
        }
    }

    @Test
    void buffersMoveWithTheirModule() {
        assumeTrue(Nnfuse.cudaDeviceCount() > 0, "no CUDA device");
        Device cuda = Device.cuda(0);
        try (BatchNorm1d norm = new BatchNorm1d(3)) {
            norm.to(Device.CPU);
            norm.to(cuda);
            assertEquals(cuda, norm.runningMean().device());
            assertEquals(cuda, norm.runningVar().device());
            try (Tensor x = Tensor.of(cuda, new float[] {1, 2, 3, 5, 6, 9}, 2, 3); Tensor y = norm.forward(x)) {
                assertEquals(cuda, y.device());
            }
            assertTrue(Math.abs(norm.runningMean().get(0) - 0.3f) < 1e-6, "running mean " + norm.runningMean());
            assertEquals(1, norm.stateDict().get("num_batches_tracked").getLong(0));
            norm.to(Device.CPU);
            assertEquals(DType.INT64, norm.stateDict().get("num_batches_tracked").dtype());
            assertEquals(Device.CPU, norm.runningVar().device());
            assertEquals(1, norm.stateDict().get("num_batches_tracked").getLong(0));
        }
    }

    /** One SGD step on the batch (optimizer made after the move); returns the step's logits. */
    private static float[] step(Sequential model, Device device, float[] input, long[] labels) {
        try (SGD optimizer = new SGD(model, 0.1f); CrossEntropyLoss loss = new CrossEntropyLoss();
                Tensor x = Tensor.of(device, input, 4, 52); Tensor y = Tensor.ofLongs(device, labels, 4)) {
            model.train();
            optimizer.zeroGrad();
            float[] logits;
            try (Tensor out = model.forward(x)) {
                logits = out.toFloatArray();
                loss.forward(out, y);
            }
            try (Tensor dlogits = loss.backward()) {
                model.backward(dlogits).close();
            }
            optimizer.step();
            return logits;
        }
    }
}
