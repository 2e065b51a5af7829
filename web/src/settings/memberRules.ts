// What the members screen lets a manager do to a member: the API's own rules (only an owner
// changes or makes an owner; a tenant keeps at least one owner), so the screen can explain them
// up front instead of after a refused request.
import type { Member, Role } from "../api/types";

export interface MemberRules {
  /** The member is the tenant's only owner. */
  lastOwner: boolean;
  canChangeRole: boolean;
  canRemove: boolean;
  /** Roles this manager may give. */
  assignable: Role[];
}

export function memberRules(member: Member, members: Member[], myRole: string): MemberRules {
  const owners = members.filter((m) => m.role === "owner").length;
  const lastOwner = member.role === "owner" && owners <= 1;
  const touchable = member.role !== "owner" || myRole === "owner";
  const allowed = touchable && !lastOwner && (myRole === "owner" || myRole === "admin");
  return {
    lastOwner,
    canChangeRole: allowed,
    canRemove: allowed,
    assignable: myRole === "owner" ? ["owner", "admin", "agent"] : myRole === "admin" ? ["admin", "agent"] : [],
  };
}
