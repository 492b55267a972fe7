/*
 * OpenCL devices: the names of OpenCL and CLBlast error codes, the
 * properties of a device, the device a spec names ("opencl",
 * "opencl:P:D", "auto") and the list `rbm-graph devices` prints. Platform
 * and device indices follow the order clGetPlatformIDs and clGetDeviceIDs
 * return, which the ICD loader keeps stable while the installed drivers
 * stay the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/ocl_internal.h"
#include "graph/error_internal.h"

/* Not in the 1.2 headers unless cl_ext.h is included: no ICD found. */
#define OCL_PLATFORM_NOT_FOUND_KHR (-1001)

enum { MAX_PLATFORMS = 64, MAX_DEVICES = 64 };

typedef struct code_name {
    cl_int code;
    const char *name;
} code_name;

static const code_name cl_names[] = {
    {CL_SUCCESS, "CL_SUCCESS"},
    {CL_DEVICE_NOT_FOUND, "CL_DEVICE_NOT_FOUND"},
    {CL_DEVICE_NOT_AVAILABLE, "CL_DEVICE_NOT_AVAILABLE"},
    {CL_COMPILER_NOT_AVAILABLE, "CL_COMPILER_NOT_AVAILABLE"},
    {CL_MEM_OBJECT_ALLOCATION_FAILURE, "CL_MEM_OBJECT_ALLOCATION_FAILURE"},
    {CL_OUT_OF_RESOURCES, "CL_OUT_OF_RESOURCES"},
    {CL_OUT_OF_HOST_MEMORY, "CL_OUT_OF_HOST_MEMORY"},
    {CL_PROFILING_INFO_NOT_AVAILABLE, "CL_PROFILING_INFO_NOT_AVAILABLE"},
    {CL_MEM_COPY_OVERLAP, "CL_MEM_COPY_OVERLAP"},
    {CL_IMAGE_FORMAT_MISMATCH, "CL_IMAGE_FORMAT_MISMATCH"},
    {CL_IMAGE_FORMAT_NOT_SUPPORTED, "CL_IMAGE_FORMAT_NOT_SUPPORTED"},
    {CL_BUILD_PROGRAM_FAILURE, "CL_BUILD_PROGRAM_FAILURE"},
    {CL_MAP_FAILURE, "CL_MAP_FAILURE"},
    {CL_MISALIGNED_SUB_BUFFER_OFFSET, "CL_MISALIGNED_SUB_BUFFER_OFFSET"},
    {CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST,
     "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST"},
    {CL_COMPILE_PROGRAM_FAILURE, "CL_COMPILE_PROGRAM_FAILURE"},
    {CL_LINKER_NOT_AVAILABLE, "CL_LINKER_NOT_AVAILABLE"},
    {CL_LINK_PROGRAM_FAILURE, "CL_LINK_PROGRAM_FAILURE"},
    {CL_DEVICE_PARTITION_FAILED, "CL_DEVICE_PARTITION_FAILED"},
    {CL_KERNEL_ARG_INFO_NOT_AVAILABLE, "CL_KERNEL_ARG_INFO_NOT_AVAILABLE"},
    {CL_INVALID_VALUE, "CL_INVALID_VALUE"},
    {CL_INVALID_DEVICE_TYPE, "CL_INVALID_DEVICE_TYPE"},
    {CL_INVALID_PLATFORM, "CL_INVALID_PLATFORM"},
    {CL_INVALID_DEVICE, "CL_INVALID_DEVICE"},
    {CL_INVALID_CONTEXT, "CL_INVALID_CONTEXT"},
    {CL_INVALID_QUEUE_PROPERTIES, "CL_INVALID_QUEUE_PROPERTIES"},
    {CL_INVALID_COMMAND_QUEUE, "CL_INVALID_COMMAND_QUEUE"},
    {CL_INVALID_HOST_PTR, "CL_INVALID_HOST_PTR"},
    {CL_INVALID_MEM_OBJECT, "CL_INVALID_MEM_OBJECT"},
    {CL_INVALID_IMAGE_FORMAT_DESCRIPTOR,
     "CL_INVALID_IMAGE_FORMAT_DESCRIPTOR"},
    {CL_INVALID_IMAGE_SIZE, "CL_INVALID_IMAGE_SIZE"},
    {CL_INVALID_SAMPLER, "CL_INVALID_SAMPLER"},
    {CL_INVALID_BINARY, "CL_INVALID_BINARY"},
    {CL_INVALID_BUILD_OPTIONS, "CL_INVALID_BUILD_OPTIONS"},
    {CL_INVALID_PROGRAM, "CL_INVALID_PROGRAM"},
    {CL_INVALID_PROGRAM_EXECUTABLE, "CL_INVALID_PROGRAM_EXECUTABLE"},
    {CL_INVALID_KERNEL_NAME, "CL_INVALID_KERNEL_NAME"},
    {CL_INVALID_KERNEL_DEFINITION, "CL_INVALID_KERNEL_DEFINITION"},
    {CL_INVALID_KERNEL, "CL_INVALID_KERNEL"},
    {CL_INVALID_ARG_INDEX, "CL_INVALID_ARG_INDEX"},
    {CL_INVALID_ARG_VALUE, "CL_INVALID_ARG_VALUE"},
    {CL_INVALID_ARG_SIZE, "CL_INVALID_ARG_SIZE"},
    {CL_INVALID_KERNEL_ARGS, "CL_INVALID_KERNEL_ARGS"},
    {CL_INVALID_WORK_DIMENSION, "CL_INVALID_WORK_DIMENSION"},
    {CL_INVALID_WORK_GROUP_SIZE, "CL_INVALID_WORK_GROUP_SIZE"},
    {CL_INVALID_WORK_ITEM_SIZE, "CL_INVALID_WORK_ITEM_SIZE"},
    {CL_INVALID_GLOBAL_OFFSET, "CL_INVALID_GLOBAL_OFFSET"},
    {CL_INVALID_EVENT_WAIT_LIST, "CL_INVALID_EVENT_WAIT_LIST"},
    {CL_INVALID_EVENT, "CL_INVALID_EVENT"},
    {CL_INVALID_OPERATION, "CL_INVALID_OPERATION"},
    {CL_INVALID_GL_OBJECT, "CL_INVALID_GL_OBJECT"},
    {CL_INVALID_BUFFER_SIZE, "CL_INVALID_BUFFER_SIZE"},
    {CL_INVALID_MIP_LEVEL, "CL_INVALID_MIP_LEVEL"},
    {CL_INVALID_GLOBAL_WORK_SIZE, "CL_INVALID_GLOBAL_WORK_SIZE"},
    {CL_INVALID_PROPERTY, "CL_INVALID_PROPERTY"},
    {CL_INVALID_IMAGE_DESCRIPTOR, "CL_INVALID_IMAGE_DESCRIPTOR"},
    {CL_INVALID_COMPILER_OPTIONS, "CL_INVALID_COMPILER_OPTIONS"},
    {CL_INVALID_LINKER_OPTIONS, "CL_INVALID_LINKER_OPTIONS"},
    {CL_INVALID_DEVICE_PARTITION_COUNT,
     "CL_INVALID_DEVICE_PARTITION_COUNT"},
    {OCL_PLATFORM_NOT_FOUND_KHR, "CL_PLATFORM_NOT_FOUND_KHR"},
};

/* CLBlast's own codes; the others are OpenCL codes. */
static const code_name clblast_names[] = {
    {-1024, "CLBlastNotImplemented"},
    {-1022, "CLBlastInvalidMatrixA"},
    {-1021, "CLBlastInvalidMatrixB"},
    {-1020, "CLBlastInvalidMatrixC"},
    {-1019, "CLBlastInvalidVectorX"},
    {-1018, "CLBlastInvalidVectorY"},
    {-1017, "CLBlastInvalidDimension"},
    {-1016, "CLBlastInvalidLeadDimA"},
    {-1015, "CLBlastInvalidLeadDimB"},
    {-1014, "CLBlastInvalidLeadDimC"},
    {-1013, "CLBlastInvalidIncrementX"},
    {-1012, "CLBlastInvalidIncrementY"},
    {-1011, "CLBlastInsufficientMemoryA"},
    {-1010, "CLBlastInsufficientMemoryB"},
    {-1009, "CLBlastInsufficientMemoryC"},
    {-1008, "CLBlastInsufficientMemoryX"},
    {-1007, "CLBlastInsufficientMemoryY"},
    {-2050, "CLBlastInsufficientMemoryTemp"},
    {-2049, "CLBlastInvalidBatchCount"},
    {-2048, "CLBlastInvalidOverrideKernel"},
    {-2047, "CLBlastMissingOverrideParameter"},
    {-2046, "CLBlastInvalidLocalMemUsage"},
    {-2045, "CLBlastNoHalfPrecision"},
    {-2044, "CLBlastNoDoublePrecision"},
    {-2043, "CLBlastInvalidVectorScalar"},
    {-2042, "CLBlastInsufficientMemoryScalar"},
    {-2041, "CLBlastDatabaseError"},
    {-2040, "CLBlastUnknownError"},
    {-2039, "CLBlastUnexpectedError"},
};

static const char *find_name(const code_name *table, size_t n, cl_int code)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].code == code) {
            return table[i].name;
        }
    }
    return NULL;
}

const char *ocl_error_name(cl_int code)
{
    const char *name = find_name(cl_names, sizeof(cl_names) /
                                 sizeof(cl_names[0]), code);
    return name != NULL ? name : "unknown OpenCL error";
}

const char *ocl_clblast_status_name(int status)
{
    const char *name = find_name(clblast_names, sizeof(clblast_names) /
                                 sizeof(clblast_names[0]), status);
    return name != NULL ? name : ocl_error_name(status);
}

rg_status ocl_fail(rg_error *err, const char *call, cl_int code)
{
    return rg_error_set(err, RG_STATUS_BACKEND, "%s failed: %s (%d)", call,
                        ocl_error_name(code), (int)code);
}

const char *ocl_device_type_name(cl_device_type type)
{
    if (type & CL_DEVICE_TYPE_GPU) {
        return "gpu";
    }
    if (type & CL_DEVICE_TYPE_CPU) {
        return "cpu";
    }
    if (type & CL_DEVICE_TYPE_ACCELERATOR) {
        return "accelerator";
    }
    return "other";
}

/* Reads a string property. On failure it stores "?", so that listings
 * still work. */
static void device_string(cl_device_id id, cl_device_info what, char *buf,
                          size_t size)
{
    if (clGetDeviceInfo(id, what, size, buf, NULL) != CL_SUCCESS) {
        snprintf(buf, size, "?");
    }
    buf[size - 1] = '\0';
}

static bool has_extension(cl_device_id id, const char *extension)
{
    size_t size = 0;
    bool found = false;

    if (clGetDeviceInfo(id, CL_DEVICE_EXTENSIONS, 0, NULL, &size) !=
            CL_SUCCESS || size == 0) {
        return false;
    }
    char *list = malloc(size + 1);
    if (list != NULL &&
        clGetDeviceInfo(id, CL_DEVICE_EXTENSIONS, size, list, NULL) ==
            CL_SUCCESS) {
        list[size] = '\0';
        size_t n = strlen(extension);
        for (char *p = strstr(list, extension); p != NULL && !found;
             p = strstr(p + 1, extension)) {
            found = (p == list || p[-1] == ' ') &&
                    (p[n] == '\0' || p[n] == ' ');
        }
    }
    free(list);
    return found;
}

/* Fills `out` with the properties of one device. */
static rg_status describe_device(cl_platform_id platform, cl_device_id id,
                                 int platform_index, int device_index,
                                 ocl_device *out, rg_error *err)
{
    cl_device_fp_config fp = 0;
    cl_int rc;

    memset(out, 0, sizeof(*out));
    out->platform = platform;
    out->id = id;
    out->platform_index = platform_index;
    out->device_index = device_index;
    device_string(id, CL_DEVICE_NAME, out->name, sizeof(out->name));
    device_string(id, CL_DRIVER_VERSION, out->driver_version,
                  sizeof(out->driver_version));
    device_string(id, CL_DEVICE_VERSION, out->version, sizeof(out->version));
    if (clGetPlatformInfo(platform, CL_PLATFORM_NAME,
                          sizeof(out->platform_name), out->platform_name,
                          NULL) != CL_SUCCESS) {
        snprintf(out->platform_name, sizeof(out->platform_name), "?");
    }
    out->platform_name[sizeof(out->platform_name) - 1] = '\0';

    const struct {
        cl_device_info what;
        void *dst;
        size_t size;
    } numbers[] = {
        {CL_DEVICE_TYPE, &out->type, sizeof(out->type)},
        {CL_DEVICE_MAX_COMPUTE_UNITS, &out->compute_units,
         sizeof(out->compute_units)},
        {CL_DEVICE_GLOBAL_MEM_SIZE, &out->global_mem_bytes,
         sizeof(out->global_mem_bytes)},
        {CL_DEVICE_MAX_MEM_ALLOC_SIZE, &out->max_alloc_bytes,
         sizeof(out->max_alloc_bytes)},
        {CL_DEVICE_MAX_WORK_GROUP_SIZE, &out->max_work_group,
         sizeof(out->max_work_group)},
        {CL_DEVICE_MAX_WORK_ITEM_SIZES, out->max_item_sizes,
         sizeof(out->max_item_sizes)},
        {CL_DEVICE_LOCAL_MEM_SIZE, &out->local_mem_bytes,
         sizeof(out->local_mem_bytes)},
        {CL_DEVICE_SINGLE_FP_CONFIG, &fp, sizeof(fp)},
    };
    for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
        rc = clGetDeviceInfo(id, numbers[i].what, numbers[i].size,
                             numbers[i].dst, NULL);
        if (rc != CL_SUCCESS) {
            return ocl_fail(err, "clGetDeviceInfo", rc);
        }
    }
    out->fp64 = has_extension(id, "cl_khr_fp64");
    out->correct_div_sqrt = (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
    return RG_STATUS_OK;
}

/* Gets every platform. No platform at all is not an error. */
static rg_status get_platforms(cl_platform_id *platforms, cl_uint *n,
                               rg_error *err)
{
    cl_int rc = clGetPlatformIDs(MAX_PLATFORMS, platforms, n);

    if (rc == OCL_PLATFORM_NOT_FOUND_KHR) {
        *n = 0;
        return RG_STATUS_OK;
    }
    if (rc != CL_SUCCESS) {
        return ocl_fail(err, "clGetPlatformIDs", rc);
    }
    *n = *n > MAX_PLATFORMS ? MAX_PLATFORMS : *n;
    return RG_STATUS_OK;
}

/* Gets every device of `platform`. No device is not an error. */
static rg_status get_devices(cl_platform_id platform, cl_device_id *devices,
                             cl_uint *n, rg_error *err)
{
    cl_int rc = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, MAX_DEVICES,
                               devices, n);

    if (rc == CL_DEVICE_NOT_FOUND) {
        *n = 0;
        return RG_STATUS_OK;
    }
    if (rc != CL_SUCCESS) {
        return ocl_fail(err, "clGetDeviceIDs", rc);
    }
    *n = *n > MAX_DEVICES ? MAX_DEVICES : *n;
    return RG_STATUS_OK;
}

/* Appends "; platform P 'NAME' has N devices: 0 'X', 1 'Y'" for each
 * platform to `buf`, so that errors show what exists. */
static void describe_platforms(const cl_platform_id *platforms, cl_uint n,
                               char *buf, size_t size)
{
    size_t used = strlen(buf);

    for (cl_uint p = 0; p < n && used < size; p++) {
        char name[128] = "?";
        cl_device_id devices[MAX_DEVICES];
        cl_uint n_devices = 0;
        rg_error ignored;

        clGetPlatformInfo(platforms[p], CL_PLATFORM_NAME, sizeof(name), name,
                          NULL);
        name[sizeof(name) - 1] = '\0';
        get_devices(platforms[p], devices, &n_devices, &ignored);
        used += (size_t)snprintf(buf + used, size - used,
                                 "; platform %u '%s' has %u device%s", p,
                                 name, n_devices, n_devices == 1 ? "" : "s");
        for (cl_uint d = 0; d < n_devices && used < size; d++) {
            char device[128] = "?";
            device_string(devices[d], CL_DEVICE_NAME, device, sizeof(device));
            used += (size_t)snprintf(buf + used, size - used, "%s%u '%s'",
                                     d == 0 ? ": " : ", ", d, device);
        }
    }
}

/* Parses a decimal index of at most six digits ending at `end`; returns
 * the character after it, or NULL. */
static const char *parse_index(const char *text, char end, int *out)
{
    int value = 0;
    int n = 0;

    for (; *text >= '0' && *text <= '9' && n < 7; text++, n++) {
        value = value * 10 + (*text - '0');
    }
    if (n == 0 || n > 6 || *text != end) {
        return NULL;
    }
    *out = value;
    return text + 1;
}

/* Parses "opencl:P:D"; returns false when malformed. */
static bool parse_indices(const char *spec, int *platform, int *device)
{
    const char *prefix = "opencl:";

    if (strncmp(spec, prefix, strlen(prefix)) != 0) {
        return false;
    }
    const char *rest = parse_index(spec + strlen(prefix), ':', platform);
    return rest != NULL && parse_index(rest, '\0', device) != NULL;
}

/* Describes the first GPU of any platform, or with `any_type` the first
 * device when there is no GPU. Returns RG_STATUS_NOT_FOUND without a
 * message when nothing matches. */
static rg_status find_first(const cl_platform_id *platforms, cl_uint n,
                            bool any_type, ocl_device *out, rg_error *err)
{
    for (int pass = 0; pass < (any_type ? 2 : 1); pass++) {
        for (cl_uint p = 0; p < n; p++) {
            cl_device_id devices[MAX_DEVICES];
            cl_uint n_devices = 0;
            rg_status st = get_devices(platforms[p], devices, &n_devices, err);
            if (st != RG_STATUS_OK) {
                return st;
            }
            for (cl_uint d = 0; d < n_devices; d++) {
                cl_device_type type = 0;
                cl_int rc = clGetDeviceInfo(devices[d], CL_DEVICE_TYPE,
                                            sizeof(type), &type, NULL);
                if (rc != CL_SUCCESS) {
                    return ocl_fail(err, "clGetDeviceInfo", rc);
                }
                if (pass == 1 || (type & CL_DEVICE_TYPE_GPU)) {
                    return describe_device(platforms[p], devices[d], (int)p,
                                           (int)d, out, err);
                }
            }
        }
    }
    return RG_STATUS_NOT_FOUND;
}

/* Describes device `d` of platform `p`, or fails listing what exists. */
static rg_status find_indexed(const cl_platform_id *platforms, cl_uint n,
                              int p, int d, const char *spec,
                              ocl_device *out, rg_error *err)
{
    char exists[512] = "";
    cl_device_id devices[MAX_DEVICES];
    cl_uint n_devices = 0;

    describe_platforms(platforms, n, exists, sizeof(exists));
    if ((cl_uint)p >= n) {
        return rg_error_set(err, RG_STATUS_NOT_FOUND,
                            "device '%s': OpenCL platform %d does not exist; "
                            "this machine has %u platform%s%s", spec, p, n,
                            n == 1 ? "" : "s", exists);
    }
    rg_status st = get_devices(platforms[p], devices, &n_devices, err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    if ((cl_uint)d >= n_devices) {
        return rg_error_set(err, RG_STATUS_NOT_FOUND,
                            "device '%s': OpenCL platform %d has no device "
                            "%d%s", spec, p, d, exists);
    }
    return describe_device(platforms[p], devices[d], p, d, out, err);
}

rg_status ocl_device_find(const char *spec, ocl_device *out, rg_error *err)
{
    cl_platform_id platforms[MAX_PLATFORMS];
    cl_uint n = 0;
    int p, d;
    bool is_auto = strcmp(spec, "auto") == 0;

    if (!is_auto && strcmp(spec, "opencl") != 0 &&
        !parse_indices(spec, &p, &d)) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "invalid device '%s'; expected cpu, auto, opencl "
                            "or opencl:PLATFORM:DEVICE with indices from "
                            "'rbm-graph devices'", spec);
    }
    rg_status st = get_platforms(platforms, &n, err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    if (n == 0) {
        return rg_error_set(err, RG_STATUS_NOT_FOUND,
                            "device '%s': no OpenCL platform is installed; "
                            "install an OpenCL driver (on Debian, for the "
                            "CPU: pocl-opencl-icd) or use device 'cpu'",
                            spec);
    }
    if (is_auto || strcmp(spec, "opencl") == 0) {
        st = find_first(platforms, n, !is_auto, out, err);
        if (st == RG_STATUS_NOT_FOUND) {
            char exists[512] = "";
            describe_platforms(platforms, n, exists, sizeof(exists));
            return rg_error_set(err, RG_STATUS_NOT_FOUND,
                                "device '%s': no %sOpenCL device found%s",
                                spec, is_auto ? "GPU " : "", exists);
        }
        return st;
    }
    return find_indexed(platforms, n, p, d, spec, out, err);
}

/* Appends one device's entry to the list. */
static rg_status append_info(rg_device_info **list, int *n,
                             const ocl_device *dev, rg_error *err)
{
    rg_device_info *grown = realloc(*list, (size_t)(*n + 1) *
                                    sizeof(*grown));
    if (grown == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    *list = grown;
    rg_device_info *info = &grown[*n];
    memset(info, 0, sizeof(*info));
    snprintf(info->spec, sizeof(info->spec), "opencl:%d:%d",
             dev->platform_index, dev->device_index);
    snprintf(info->name, sizeof(info->name), "%s", dev->name);
    snprintf(info->platform, sizeof(info->platform), "%s",
             dev->platform_name);
    snprintf(info->type, sizeof(info->type), "%s",
             ocl_device_type_name(dev->type));
    info->compute_units = (int)dev->compute_units;
    info->global_mem_bytes = (int64_t)dev->global_mem_bytes;
    info->max_alloc_bytes = (int64_t)dev->max_alloc_bytes;
    snprintf(info->driver_version, sizeof(info->driver_version), "%s",
             dev->driver_version);
    (*n)++;
    return RG_STATUS_OK;
}

rg_status ocl_device_list_append(rg_device_info **list, int *n_devices,
                                 rg_error *err)
{
    cl_platform_id platforms[MAX_PLATFORMS];
    cl_uint n = 0;
    rg_status st = get_platforms(platforms, &n, err);

    for (cl_uint p = 0; p < n && st == RG_STATUS_OK; p++) {
        cl_device_id devices[MAX_DEVICES];
        cl_uint n_devices_here = 0;

        st = get_devices(platforms[p], devices, &n_devices_here, err);
        for (cl_uint d = 0; d < n_devices_here && st == RG_STATUS_OK; d++) {
            ocl_device dev;
            st = describe_device(platforms[p], devices[d], (int)p, (int)d,
                                 &dev, err);
            if (st == RG_STATUS_OK) {
                st = append_info(list, n_devices, &dev, err);
            }
        }
    }
    return st;
}
