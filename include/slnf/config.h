/*
 * config.h - slnfd's configuration, parsed from one JSON file with one
 * schema (the orchestrator's API reuses it).
 *
 * slnf_config_load validates everything it can without DPDK: every error
 * names the file, the field (as a JSON path like "ports[1].iface") and the
 * reason. NF parameters are kept as JSON and validated by each NF's create().
 * docs/config.md documents every field.
 */
#ifndef SLNF_CONFIG_H
#define SLNF_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>

#include <jansson.h>

#include "slnf/error.h"
#include "slnf/store.h"

#define SLNF_NAME_MAX 32
#define SLNF_MAX_PORTS 16
#define SLNF_MAX_ADDRS 8
#define SLNF_MAX_TENANTS 64
#define SLNF_MAX_CHAIN 16
#define SLNF_MAX_VLANS 64
#define SLNF_MAX_WORKERS 16
#define SLNF_MAX_STATIC_NEIGH 64

struct slnf_ipv4_prefix {
	uint32_t addr; /* host order */
	uint8_t len;
};

enum slnf_port_type {
	SLNF_PORT_AF_PACKET,
	SLNF_PORT_AF_XDP,
	SLNF_PORT_TAP,
	SLNF_PORT_PCAP,
	SLNF_PORT_RING,
	SLNF_PORT_NULL,
	SLNF_PORT_PCI,
};

struct slnf_port_config {
	char name[SLNF_NAME_MAX];
	enum slnf_port_type type;
	char iface[64];     /* af_packet, af_xdp, tap: Linux interface name */
	char rx_pcap[PATH_MAX]; /* pcap: file to read (may be empty) */
	char tx_pcap[PATH_MAX]; /* pcap: file to write (may be empty) */
	char pci[64];       /* pci: device address, e.g. 0000:03:00.0 */
	char mac[18];       /* optional override, "aa:bb:cc:dd:ee:ff" */
	struct slnf_ipv4_prefix addrs[SLNF_MAX_ADDRS];
	unsigned n_addrs;
	uint16_t rx_desc, tx_desc;
};

struct slnf_chain_entry {
	char nf[SLNF_NAME_MAX];
	json_t *params; /* the whole chain element object (borrowed from root) */
	char field[64]; /* "tenants[0].chain[1]" for error messages */
};

struct slnf_tenant_config {
	char name[SLNF_NAME_MAX];
	uint32_t id; /* namespaces the tenant's state keys */
	uint16_t ports[SLNF_MAX_PORTS]; /* port indexes the tenant is reached on */
	unsigned n_ports;
	uint16_t vlans[SLNF_MAX_VLANS]; /* empty: untagged and any VLAN */
	unsigned n_vlans;
	/* "inside": packets arriving on these ports run the chain in order,
	 * packets arriving on the tenant's other ports in reverse (a final
	 * router stays last). No inside ports: every packet runs in order. */
	bool inside[SLNF_MAX_PORTS];
	unsigned n_inside;
	struct slnf_chain_entry chain[SLNF_MAX_CHAIN];
	unsigned n_chain;
};

struct slnf_static_neigh {
	uint16_t port;
	uint32_t ip;
	uint8_t mac[6];
};

struct slnf_config {
	char file[PATH_MAX];
	char name[SLNF_NAME_MAX]; /* instance name: default file prefix and socket */
	char role[16];            /* "nf" (runs chains) or "steer" (steering tier) */
	struct {
		bool hugepages;       /* false: --no-huge */
		unsigned memory_mb;   /* -m */
		char file_prefix[64]; /* --file-prefix, default "slnf-<name>" */
		char lcores[64];      /* -l, default "0-<workers-1>" */
		char log_level[16];   /* --log-level for EAL, default "error" */
	} eal;
	struct {
		unsigned count;           /* worker lcores */
		bool busy_poll;           /* never sleep when idle */
		unsigned idle_sleep_max_us; /* longest back-off sleep */
		unsigned burst;           /* rx burst size, <= SLNF_BURST_MAX */
	} workers;
	unsigned mbufs;              /* mbufs in the pool */
	char control_socket[PATH_MAX];
	struct {
		unsigned reachable_s; /* an entry is trusted this long after confirmation */
		unsigned max_pending; /* packets held per unresolved next hop */
		struct slnf_static_neigh statics[SLNF_MAX_STATIC_NEIGH];
		unsigned n_statics;
	} neigh;
	struct slnf_store_config store;
	struct slnf_port_config ports[SLNF_MAX_PORTS];
	unsigned n_ports;
	struct slnf_tenant_config tenants[SLNF_MAX_TENANTS];
	unsigned n_tenants;
	json_t *root; /* owns the JSON the chain params point into */
};

/* Load and validate path. On error returns a negative errno and err names
 * the file, the field and the reason. cfg must be freed with
 * slnf_config_free even on error. */
int slnf_config_load(const char *path, struct slnf_config *cfg, struct slnf_error *err);
/* The same from a JSON text; file is only used in messages. */
int slnf_config_parse(const char *text, const char *file, struct slnf_config *cfg,
		      struct slnf_error *err);
void slnf_config_free(struct slnf_config *cfg);

/* Does b differ from a anywhere but in the tenants' chains? If so, field
 * (size bytes) gets the JSON path of the first difference, in the order the
 * loader reads fields ("workers.count", "ports[1].iface",
 * "tenants[0].match.ports"). What a live reload may not change. */
bool slnf_config_diff(const struct slnf_config *a, const struct slnf_config *b, char *field,
		      size_t size);
/* Are the two tenants' chains the same JSON, element by element? */
bool slnf_config_chain_equal(const struct slnf_tenant_config *a,
			     const struct slnf_tenant_config *b);

/* Parse and validate top["store"] (absent: the defaults) as slnfd does,
 * for programs whose own config embeds a store section (slnf-orch).
 * 0, or a negative errno with err naming file, "store.<field>" and why. */
int slnf_config_parse_store(json_t *top, const char *file, struct slnf_store_config *out,
			    struct slnf_error *err);

/* Is this the config of a steering node (role "steer")? */
static inline bool slnf_config_is_steer(const struct slnf_config *cfg)
{
	return cfg->role[0] == 's';
}

/* Index of the port named name, or -1. */
int slnf_config_port_index(const struct slnf_config *cfg, const char *name);

/* "10.0.0.1/24" or "10.0.0.1" (len 32). 0 or -EINVAL. */
int slnf_parse_prefix(const char *s, struct slnf_ipv4_prefix *out);
/* "10.0.0.1". 0 or -EINVAL. */
int slnf_parse_ipv4(const char *s, uint32_t *out);
/* "aa:bb:cc:dd:ee:ff". 0 or -EINVAL. */
int slnf_parse_mac(const char *s, uint8_t mac[6]);

#endif
