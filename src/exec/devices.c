/*
 * The device list behind `rbm-graph devices`: the CPU backend, described
 * from /proc/cpuinfo, the process's CPU affinity and OpenBLAS, then every
 * OpenCL device (ocl_device.c).
 */
#define _GNU_SOURCE
#include <cblas.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/ocl_internal.h"
#include "graph/error_internal.h"

/* Copies the first "model name" of /proc/cpuinfo, else "unknown CPU". */
static void cpu_model(char *buf, size_t size)
{
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");

    snprintf(buf, size, "unknown CPU");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
            colon += strspn(colon + 1, " \t") + 1;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(buf, size, "%s", colon);
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
}

static void describe_cpu(rg_device_info *info)
{
    cpu_set_t set;
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_bytes = sysconf(_SC_PAGESIZE);

    memset(info, 0, sizeof(*info));
    snprintf(info->spec, sizeof(info->spec), "cpu");
    snprintf(info->type, sizeof(info->type), "cpu");
    cpu_model(info->name, sizeof(info->name));
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        info->compute_units = CPU_COUNT(&set);
    } else {
        info->compute_units = (int)sysconf(_SC_NPROCESSORS_ONLN);
    }
    if (pages > 0 && page_bytes > 0) {
        info->global_mem_bytes = (int64_t)pages * page_bytes;
        info->max_alloc_bytes = info->global_mem_bytes;
    }
    snprintf(info->driver_version, sizeof(info->driver_version),
             "%s", openblas_get_config());
}

rg_status rg_device_list(rg_device_info **out, int *n_devices, rg_error *err)
{
    rg_device_info *list = malloc(sizeof(*list));
    int n = 1;

    *out = NULL;
    *n_devices = 0;
    if (list == NULL) {
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "out of memory");
    }
    describe_cpu(&list[0]);
    rg_status st = ocl_device_list_append(&list, &n, err);
    if (st != RG_STATUS_OK) {
        free(list);
        return st;
    }
    *out = list;
    *n_devices = n;
    return RG_STATUS_OK;
}

void rg_device_list_free(rg_device_info *devices)
{
    free(devices);
}
