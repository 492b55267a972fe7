/*
 * rbm-graph devices: lists the devices a runtime can open, the CPU
 * backend first, then every OpenCL platform and device, with the spec to
 * pass to --device and the device that 'opencl' and 'auto' pick.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char devices_help[] =
    "Usage: rbm-graph devices\n"
    "\n"
    "List the devices rbm-graph can run on: the CPU backend and every\n"
    "OpenCL device, each with the spec that --device takes, its type,\n"
    "compute units, global memory, largest single allocation and driver\n"
    "version. The last lines name the devices that '--device opencl' and\n"
    "'--device auto' select.\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help and exit\n";

static double gibibytes(int64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0 * 1024.0);
}

static void print_device(const rg_device_info *d)
{
    bool is_cpu_backend = strcmp(d->spec, "cpu") == 0;

    if (is_cpu_backend) {
        printf("%s: CPU backend on %s\n", d->spec, d->name);
    } else {
        printf("%s: %s (platform %s)\n", d->spec, d->name, d->platform);
    }
    printf("    type %s, %d compute units%s\n", d->type, d->compute_units,
           is_cpu_backend ? " (threads)" : "");
    printf("    global memory %.1f GiB, max allocation %.1f GiB\n",
           gibibytes(d->global_mem_bytes), gibibytes(d->max_alloc_bytes));
    printf("    driver %s\n", d->driver_version);
}

/* Returns the index of the first OpenCL GPU. When there is none, returns
 * the first OpenCL device if `any_type`, else -1. Entry 0 is the CPU
 * backend. */
static int pick(const rg_device_info *list, int n, bool any_type)
{
    for (int i = 1; i < n; i++) {
        if (strcmp(list[i].type, "gpu") == 0) {
            return i;
        }
    }
    return any_type && n > 1 ? 1 : -1;
}

int cmd_devices(int argc, char **argv)
{
    rg_device_info *list = NULL;
    int n = 0;
    rg_error err;

    if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "--help") == 0)) {
        fputs(devices_help, stdout);
        return 0;
    }
    if (argc != 1) {
        return cli_usage_error("devices ", "devices takes no arguments");
    }
    if (rg_device_list(&list, &n, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        print_device(&list[i]);
    }
    int opencl = pick(list, n, true);
    int gpu = pick(list, n, false);
    printf("--device opencl selects %s\n",
           opencl >= 0 ? list[opencl].spec : "nothing (no OpenCL device)");
    printf("--device auto selects %s\n", gpu >= 0 ? list[gpu].spec : "cpu");
    if (n == 1) {
        fprintf(stderr, "%s: no OpenCL device found; install an OpenCL "
                "driver (for the CPU: pocl-opencl-icd) to use --device "
                "opencl\n", cli_program);
    }
    rg_device_list_free(list);
    return 0;
}
