/*
 * counters.c - an instance's packet counters from its stats; see
 * counters.h.
 */
#include <errno.h>

#include "orch/control.h"
#include "orch/counters.h"

int orch_counters_of(json_t *stats, uint64_t *rx, uint64_t *tx)
{
	json_t *ports = json_object_get(stats, "ports"), *p;
	size_t i;

	*rx = *tx = 0;
	if (!json_is_array(ports))
		return -EBADMSG;
	json_array_foreach(ports, i, p)
	{
		*rx += (uint64_t)json_integer_value(json_object_get(p, "rx_packets"));
		*tx += (uint64_t)json_integer_value(json_object_get(p, "tx_packets"));
	}
	return 0;
}

int orch_inst_counters(const struct orch_inst *in, uint64_t *rx, uint64_t *tx, unsigned timeout_ms)
{
	json_t *a = NULL;
	int rc = orch_control_json(in->proc.socket_path, "stats", NULL, &a, timeout_ms);

	if (!rc)
		rc = orch_counters_of(a, rx, tx);
	json_decref(a);
	return rc;
}
