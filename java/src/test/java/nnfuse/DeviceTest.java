package nnfuse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Devices and CUDA tensors: parsing, the backend's default device, copies between host and device, element
 * access, mixing devices, and use after close. The CUDA part runs where a CUDA device exists: in the suite on
 * the CUDA harness, and on a machine with a GPU.
 */
class DeviceTest {
    @Test
    void devicesParseAsPyTorchWritesThem() {
        assertEquals(Device.CPU, Device.parse("cpu"));
        assertEquals(Device.cuda(0), Device.parse("cuda"));
        assertEquals(Device.cuda(3), Device.parse(" CUDA:3 "));
        assertEquals("cuda:3", Device.cuda(3).toString());
        assertEquals("unknown device 'gpu'; expected cpu, cuda or cuda:N",
                assertThrows(IllegalArgumentException.class, () -> Device.parse("gpu")).getMessage());
        assertEquals("unknown device 'cuda:x'; expected cpu, cuda or cuda:N",
                assertThrows(IllegalArgumentException.class, () -> Device.parse("cuda:x")).getMessage());
        assertEquals("device index must be >= 0, got -1",
                assertThrows(IllegalArgumentException.class, () -> Device.cuda(-1)).getMessage());
        assertEquals("the CPU device has index 0, got 1",
                assertThrows(IllegalArgumentException.class, () -> new Device(Device.Kind.CPU, 1)).getMessage());
    }

    @Test
    void factoriesWithoutADevicePutTensorsOnTheBackendsDevice() {
        try (Tensor t = Tensor.zeros(2, 3); Tensor u = Tensor.of(new float[] {1}, 1)) {
            assertEquals(Nnfuse.backend().device(), t.device());
            assertEquals(Nnfuse.backend().device(), u.device());
        }
    }

    @Test
    void aMissingDeviceIsAClearError() {
        int count = Nnfuse.cudaDeviceCount();
        Throwable e = assertThrows(NnfuseException.class, () -> Tensor.zeros(Device.cuda(count), 4));
        assertTrue(e.getMessage().contains("nf_cuda_malloc"), e.getMessage());
        if (!Nnfuse.cudaBuilt()) {
            assertEquals("this libnnfuse was built without the CUDA backend", Nnfuse.cudaUnavailableReason());
        }
    }

    @Test
    void cudaTensorsRoundTripThroughTheHost(@TempDir Path dir) throws IOException {
        assumeTrue(Nnfuse.cudaDeviceCount() > 0, "no CUDA device");
        Device cuda = Device.cuda(0);
        float[] data = {1.5f, -2, 3, Float.NaN, -0.0f, 6, 7};
        try (Tensor d = Tensor.of(cuda, data, 7)) {
            assertEquals(cuda, d.device());
            assertEquals("float32[7] on cuda:0", d.describe());
            assertArrayEquals(data, d.toFloatArray());
            assertEquals(3f, d.get(2));
            d.set(9f, 2);
            assertEquals(9f, d.get(2));
            try (Tensor host = d.to(Device.CPU); Tensor back = host.to(cuda); Tensor twin = d.to(cuda)) {
                assertEquals(Device.CPU, host.device());
                assertArrayEquals(d.toFloatArray(), host.toFloatArray());
                assertArrayEquals(d.toFloatArray(), back.toFloatArray());
                assertArrayEquals(d.toFloatArray(), twin.toFloatArray());
            }
            d.fill(0.25f);
            assertArrayEquals(new float[] {.25f, .25f, .25f, .25f, .25f, .25f, .25f}, d.toFloatArray());
            d.fill(0f);
            Nnfuse.synchronize(cuda);
            Nnfuse.synchronize(Device.CPU);
            assertArrayEquals(new float[7], d.toFloatArray());
            Path file = dir.resolve("d.npy");
            d.copyFrom(data).save(file);
            try (Tensor loaded = Tensor.load(file)) {
                assertArrayEquals(data, loaded.toFloatArray());
            }
        }
        try (Tensor labels = Tensor.ofLongs(cuda, new long[] {4, -1, 7}, 3)) {
            assertArrayEquals(new long[] {4, -1, 7}, labels.toLongArray());
            labels.setLong(5, 1);
            assertEquals(5, labels.getLong(1));
        }
    }

    @Test
    void cudaMemoryIsNotAddressableFromTheHost() {
        assumeTrue(Nnfuse.cudaDeviceCount() > 0, "no CUDA device");
        try (Tensor d = Tensor.zeros(Device.cuda(0), 2, 2)) {
            assertEquals("tensor (float32[2, 2] on cuda:0) is in device "
                    + "memory, which the host cannot address; copy it with to(Device.CPU) or toFloatArray()",
                assertThrows(IllegalStateException.class, d::segment).getMessage());
        }
    }

    @Test
    void anOpRefusesTensorsOnTwoDevices() {
        assumeTrue(Nnfuse.cudaDeviceCount() > 0, "no CUDA device");
        try (Tensor x = Tensor.zeros(Device.CPU, 4); Tensor y = Tensor.zeros(Device.cuda(0), 4)) {
            assertEquals("relu: all tensors must be on one device, but y is on cuda:0 and x on cpu; copy one with "
                            + "Tensor.to(Device)",
                assertThrows(IllegalArgumentException.class, () -> ReluOps.forward(y, x)).getMessage());
        }
    }

    @Test
    void useAfterCloseThrowsOnTheDeviceToo() {
        assumeTrue(Nnfuse.cudaDeviceCount() > 0, "no CUDA device");
        Tensor d = Tensor.zeros(Device.cuda(0), 3);
        d.close();
        d.close();
        assertEquals("tensor (float32[3] on cuda:0) is closed",
                assertThrows(IllegalStateException.class, d::toFloatArray).getMessage());
        try (Tensor x = Tensor.zeros(Device.cuda(0), 3)) {
            assertEquals("relu: y (float32[3] on cuda:0) is closed",
                assertThrows(IllegalStateException.class, () -> ReluOps.forward(d, x)).getMessage());
        }
    }

    @Test
    void theBackendNamesItsDeviceAndWhy() {
        Nnfuse.Backend backend = Nnfuse.backend();
        assertEquals(backend.device().isCuda() ? "cuda" : "cpu", backend.name());
        if (backend.device().isCuda()) {
            assertTrue(backend.reason().contains(Nnfuse.cudaDeviceName(backend.device().index())), backend.reason());
        }
    }
}
