/*
 * port.h - bring the configured ports up: find each probed DPDK device,
 * configure one rx/tx queue pair per worker, start it and read its MAC.
 */
#ifndef SLNF_DP_PORT_H
#define SLNF_DP_PORT_H

#include "slnf/error.h"
#include "dp/instance.h"

/* Create the mbuf pool and start every port. 0 or negative errno with err
 * naming the port field ("ports[1]") and what DPDK said. */
int slnf_ports_start(struct slnf_instance *inst, struct slnf_error *err);
/* Stop and close every port that was started. */
void slnf_ports_stop(struct slnf_instance *inst);

#endif
