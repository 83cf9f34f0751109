package nnfuse.internal.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import nnfuse.internal.NativeLibrary;
import org.junit.jupiter.api.Test;

/**
 * nnfuse.h and the committed jextract bindings describe the same ABI: every
 * NF_API function exists on both sides with the same arity and parameter
 * types, in both the invoker's Java signature and the FunctionDescriptor. A
 * function added, removed or changed on one side only fails here; run
 * native/jextract.sh to regenerate.
 */
class BindingsConsistencyTest {
    private static final Pattern FUNCTION = Pattern.compile(
            "NF_API\\s+([\\w\\s*]+?)\\s*\\b(nf_\\w+)\\s*\\(([^)]*)\\)\\s*;", Pattern.DOTALL);

    /** The CUDA entry points that a library built without CUDA has too. */
    private static final Set<String> ALWAYS_PRESENT = Set.of("nf_cuda_built", "nf_cuda_emulated", "nf_cuda_device_count");

    record CFunction(String name, String returnType, List<String> parameterTypes) {}

    @Test
    void headerAndBindingsDeclareTheSameFunctions() throws IOException {
        Map<String, CFunction> header = parseHeader();
        Map<String, Method> bindings = invokers();
        assertTrue(header.size() >= 8, "parsed too few functions from nnfuse.h: " + header.keySet());
        assertEquals(header.keySet(), bindings.keySet(), "functions declared in nnfuse.h vs nnfuse_h.java");
        for (CFunction f : header.values()) {
            Method m = bindings.get(f.name());
            List<Class<?>> expected = f.parameterTypes().stream().map(BindingsConsistencyTest::javaType).toList();
            assertEquals(expected, List.of(m.getParameterTypes()), f.name() + ": parameter types");
            assertEquals(javaType(f.returnType()), m.getReturnType(), f.name() + ": return type");
        }
    }

    /**
     * The loaded library exports every function of the header that its build has: all of them with the CUDA
     * backend, all but the CUDA ops and memory functions without it.
     */
    @Test
    void libraryExportsEveryFunctionOfItsBuild() throws IOException {
        boolean cuda = nnfuse_h.nf_cuda_built() == 1;
        List<String> missing = new ArrayList<>();
        for (String name : parseHeader().keySet()) {
            boolean expected = cuda || !name.startsWith("nf_cuda_") || ALWAYS_PRESENT.contains(name);
            if (expected && NativeLibrary.lookup().find(name).isEmpty()) {
                missing.add(name);
            }
        }
        assertEquals(List.of(), missing, "declared in nnfuse.h but not exported (CUDA built: " + cuda + ")");
    }

    /** Checked for the functions the loaded library has; binding one the library lacks would fail to link. */
    @Test
    void descriptorsMatchTheHeader() throws Exception {
        for (CFunction f : parseHeader().values()) {
            if (NativeLibrary.lookup().find(f.name()).isEmpty()) {
                continue;
            }
            FunctionDescriptor d = (FunctionDescriptor) nnfuse_h.class.getMethod(f.name() + "$descriptor").invoke(null);
            List<Class<?>> carriers = new ArrayList<>();
            for (MemoryLayout layout : d.argumentLayouts()) {
                carriers.add(((java.lang.foreign.ValueLayout) layout).carrier());
            }
            List<Class<?>> expected = f.parameterTypes().stream().map(BindingsConsistencyTest::javaType).toList();
            assertEquals(expected, carriers, f.name() + ": descriptor argument layouts");
            Class<?> ret = d.returnLayout().<Class<?>>map(l -> ((java.lang.foreign.ValueLayout) l).carrier()).orElse(void.class);
            assertEquals(javaType(f.returnType()), ret, f.name() + ": descriptor return layout");
        }
    }

    static Map<String, CFunction> parseHeader() throws IOException {
        Path header = Path.of(System.getProperty("nnfuse.test.root"), "native", "include", "nnfuse.h");
        String text = Files.readString(header)
                .replaceAll("(?s)/\\*.*?\\*/", " ")
                .replaceAll("//[^\\n]*", " ");
        Map<String, CFunction> functions = new TreeMap<>();
        Matcher m = FUNCTION.matcher(text);
        while (m.find()) {
            List<String> params = new ArrayList<>();
            String list = m.group(3).trim();
            if (!list.isEmpty() && !list.equals("void")) {
                for (String p : list.split(",")) {
                    params.add(parameterType(p.trim()));
                }
            }
            functions.put(m.group(2), new CFunction(m.group(2), normalize(m.group(1)), params));
        }
        return functions;
    }

    /** The C type of a declaration such as {@code const float *x} or {@code uint32_t out[4]}. */
    static String parameterType(String declaration) {
        String d = declaration.replaceAll("\\bconst\\b", " ").trim();
        boolean array = d.endsWith("]");
        d = d.replaceAll("\\[[^]]*]$", "");
        String type = d.replaceAll("\\b\\w+$", "").trim();
        if (type.isEmpty()) {
            type = d;
        }
        return normalize(type) + (array ? "*" : "");
    }

    static String normalize(String type) {
        return type.replaceAll("\\bconst\\b", "").replaceAll("\\s+", "").trim();
    }

    static Class<?> javaType(String cType) {
        if (cType.endsWith("*")) {
            return MemorySegment.class;
        }
        return switch (cType) {
            case "int32_t", "uint32_t", "int" -> int.class;
            case "int64_t", "uint64_t" -> long.class;
            case "float" -> float.class;
            case "double" -> double.class;
            case "void" -> void.class;
            default -> throw new AssertionError("C type not mapped in this test: " + cType);
        };
    }

    static Map<String, Method> invokers() {
        Map<String, Method> methods = new TreeMap<>();
        for (Method m : nnfuse_h.class.getDeclaredMethods()) {
            int mod = m.getModifiers();
            if (Modifier.isPublic(mod) && Modifier.isStatic(mod) && m.getName().startsWith("nf_")
                    && !m.getName().contains("$")) {
                Method previous = methods.put(m.getName(), m);
                assertTrue(previous == null, "overloaded invoker " + m.getName());
            }
        }
        return methods;
    }
}
