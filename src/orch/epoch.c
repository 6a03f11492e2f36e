/*
 * epoch.c - the steering epoch's record in the store; see epoch.h.
 */
#include <errno.h>
#include <string.h>

#include "orch/desired.h"
#include "orch/epoch.h"

static void epoch_key(struct slnf_store_key *k)
{
	static const char name[] = "orch/epoch";

	slnf_store_key_init(k, ORCH_STORE_TENANT, ORCH_STORE_NF, name, sizeof(name) - 1);
}

int orch_epoch_load(struct slnf_store *s, uint64_t *epoch)
{
	struct slnf_store_key k;
	struct slnf_store_op op;
	int rc;

	*epoch = 0;
	epoch_key(&k);
	slnf_store_op_init(&op, SLNF_STORE_GET, &k);
	rc = slnf_store_exec(s, &op, 1);
	if (!rc)
		rc = op.status;
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (op.val_len != sizeof(*epoch))
		return -EIO;
	memcpy(epoch, op.val, sizeof(*epoch));
	return 0;
}

int orch_epoch_save(struct slnf_store *s, uint64_t epoch)
{
	struct slnf_store_key k;
	struct slnf_store_op op;
	int rc;

	epoch_key(&k);
	slnf_store_op_init(&op, SLNF_STORE_PUT, &k);
	memcpy(op.val, &epoch, sizeof(epoch));
	op.val_len = sizeof(epoch);
	rc = slnf_store_exec(s, &op, 1);
	return rc ? rc : op.status;
}
