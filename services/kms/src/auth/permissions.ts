// Separation of duties, in one table: every route names exactly one permission, and this table
// says which roles hold it. Nothing else in the service grants access. The matrix test calls
// every route as every role (own and other tenant) and checks the answer against this table.

export const ROLES = ['cloud-admin', 'tenant-admin', 'tenant-user', 'hypervisor', 'delegate', 'reviewer'] as const;
export type Role = (typeof ROLES)[number];

/** Roles whose principals belong to one tenant and act only inside it. */
export const TENANT_ROLES: ReadonlySet<Role> = new Set(['tenant-admin', 'tenant-user', 'delegate']);

export const PERMISSIONS = {
  // Unauthenticated: liveness, readiness, the API description and metrics (aggregates only, admin plane).
  'public': [],
  // Admin plane — the provider's operators.
  'tenant.create': ['cloud-admin'],
  'tenant.list': ['cloud-admin'],
  'quota.set': ['cloud-admin'],
  'quota.read': ['cloud-admin', 'tenant-admin'],
  'operator.enroll': ['cloud-admin'],
  'operator.read': ['cloud-admin'],
  'operator.revoke': ['cloud-admin'],
  'host.register': ['cloud-admin'],
  'host.approve-launch': ['cloud-admin'],
  'host.read': ['cloud-admin', 'reviewer'],
  'service.approve-configuration': ['cloud-admin'],
  'audit.read-metadata': ['cloud-admin', 'reviewer'],
  // Tenant plane — the tenant's security officer and users.
  'principal.enroll': ['tenant-admin'],
  'principal.revoke': ['tenant-admin'],
  'principal.read': ['tenant-admin'],
  'key.import': ['tenant-admin'],
  'key.generate': ['tenant-admin'],
  'key.rotate': ['tenant-admin'],
  'key.enable': ['tenant-admin'],
  'key.disable': ['tenant-admin'],
  'key.destroy': ['tenant-admin'],
  'key.read': ['tenant-admin', 'tenant-user'],
  'key.classify': ['tenant-admin'],
  'key.use': ['tenant-user', 'delegate'],
  'policy.write': ['tenant-admin'],
  'vm.register': ['tenant-user', 'delegate'],
  'vm.read': ['tenant-admin', 'tenant-user', 'delegate'],
  'audit.read-tenant': ['tenant-admin'],
  'token.exchange': ['delegate', 'hypervisor'],
  // Data plane — hypervisor adapters.
  'block.crypt': ['hypervisor'],
  'vm.measure': ['hypervisor'],
  // Compliance plane — reviewers.
  'evidence.read': ['reviewer'],
  'scan.run': ['reviewer'],
  'scan.read': ['reviewer'],
  'audit.export': ['reviewer'],
  // Everyone authenticated: who am I, and what is the service's measured configuration.
  'self.read': ['cloud-admin', 'tenant-admin', 'tenant-user', 'hypervisor', 'delegate', 'reviewer'],
  'service.measurements.read': ['cloud-admin', 'tenant-admin', 'tenant-user', 'reviewer'],
} as const satisfies Record<string, readonly Role[]>;

export type Permission = keyof typeof PERMISSIONS;

export function roleHolds(role: Role, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly Role[]).includes(role);
}
