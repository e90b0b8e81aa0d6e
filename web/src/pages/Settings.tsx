import { useState } from "react";
import { Link } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Copy, KeyRound, TriangleAlert } from "lucide-react";
import { PageHeader } from "@/components/AppShell";
import { BookmarkletLink } from "@/components/Bookmarklet";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input, Label } from "@/components/ui/input";
import { NativeSelect } from "@/components/ui/select";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { toast } from "@/components/ui/toast";
import { api, errorMessage } from "@/lib/api";
import { useAuthState } from "@/lib/auth";
import { formatDateTime } from "@/lib/format";
import type { PasswordChange, TokenCreate, TokenCreated, TokenOut } from "@/client";

function PasswordCard() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const change = useMutation({
    mutationFn: (body: PasswordChange) => api.post("/auth/password", { body }),
    meta: { silent: true },
    onSuccess: () => {
      setCurrent("");
      setNext("");
      toast.success("Password changed", "Your other sessions were signed out.");
    },
  });
  return (
    <Card>
      <CardHeader>
        <CardTitle className="text-base">Password</CardTitle>
      </CardHeader>
      <CardContent>
        <form
          className="grid max-w-sm gap-3"
          aria-label="Change password"
          onSubmit={(e) => {
            e.preventDefault();
            change.mutate({ current_password: current, new_password: next });
          }}
        >
          <div className="grid gap-1.5">
            <Label htmlFor="pw-current">Current password</Label>
            <Input id="pw-current" type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
          </div>
          <div className="grid gap-1.5">
            <Label htmlFor="pw-new">New password</Label>
            <Input id="pw-new" type="password" autoComplete="new-password" required minLength={10} value={next} onChange={(e) => setNext(e.target.value)} />
          </div>
          {change.isError && (
            <p role="alert" className="text-sm text-destructive">
              {errorMessage(change.error)}
            </p>
          )}
          <Button type="submit" className="justify-self-start" disabled={change.isPending}>
            Change password
          </Button>
        </form>
      </CardContent>
    </Card>
  );
}

function NewToken({ token, onDone }: { token: TokenCreated; onDone: () => void }) {
  return (
    <div role="status" data-testid="new-token" className="grid gap-2 rounded-md border border-amber-500/50 bg-amber-500/10 p-3">
      <p className="flex items-center gap-2 text-sm font-medium">
        <TriangleAlert className="size-4" aria-hidden /> Copy this token now: it is shown only once.
      </p>
      <div className="flex gap-2">
        <Input readOnly value={token.token} aria-label="New API token" className="font-mono" onFocus={(e) => e.target.select()} />
        <Button
          variant="outline"
          onClick={() =>
            navigator.clipboard?.writeText(token.token).then(
              () => toast.success("Token copied"),
              () => toast.error("Could not copy", "Select the token and copy it by hand."),
            )
          }
        >
          <Copy aria-hidden /> Copy
        </Button>
      </div>
      <Button variant="ghost" size="sm" className="justify-self-start" onClick={onDone}>
        I have stored it
      </Button>
    </div>
  );
}

function TokensCard() {
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState("read");
  const [days, setDays] = useState("90");
  const [created, setCreated] = useState<TokenCreated | null>(null);
  const [revoking, setRevoking] = useState<TokenOut | null>(null);
  const tokens = useQuery({ queryKey: ["auth", "tokens"], queryFn: ({ signal }) => api.get("/auth/tokens", { signal }) });
  const create = useMutation({
    mutationFn: (body: TokenCreate) => api.post("/auth/tokens", { body }),
    onSuccess: (t) => {
      setCreated(t);
      setName("");
      qc.invalidateQueries({ queryKey: ["auth", "tokens"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: number) => api.delete("/auth/tokens/{token_id}", { path: { token_id: id } }),
    onSuccess: () => {
      setRevoking(null);
      toast.success("Token revoked");
      qc.invalidateQueries({ queryKey: ["auth", "tokens"] });
    },
  });
  const active = (tokens.data ?? []).filter((t) => !t.revoked_at);
  return (
    <Card>
      <CardHeader>
        <CardTitle className="text-base">API tokens</CardTitle>
        <CardDescription>For scripts and tools: send it as <code>Authorization: Bearer …</code>. Read-only tokens cannot change anything.</CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">
        <form
          className="grid gap-3 sm:grid-cols-[minmax(0,1fr)_10rem_9rem_auto] sm:items-end"
          aria-label="Create API token"
          onSubmit={(e) => {
            e.preventDefault();
            if (!name.trim()) return;
            create.mutate({
              name: name.trim(),
              scopes: scopes === "write" ? ["read", "write"] : ["read"],
              expires_in_days: days ? Number(days) : null,
            });
          }}
        >
          <div className="grid gap-1.5">
            <Label htmlFor="token-name">Token name</Label>
            <Input id="token-name" required maxLength={100} value={name} placeholder="e.g. laptop script" onChange={(e) => setName(e.target.value)} />
          </div>
          <div className="grid gap-1.5">
            <Label htmlFor="token-scopes">Access</Label>
            <NativeSelect id="token-scopes" value={scopes} onChange={(e) => setScopes(e.target.value)}>
              <option value="read">Read only</option>
              <option value="write">Read and write</option>
            </NativeSelect>
          </div>
          <div className="grid gap-1.5">
            <Label htmlFor="token-expiry">Expires</Label>
            <NativeSelect id="token-expiry" value={days} onChange={(e) => setDays(e.target.value)}>
              <option value="7">in 7 days</option>
              <option value="30">in 30 days</option>
              <option value="90">in 90 days</option>
              <option value="365">in a year</option>
              <option value="">never</option>
            </NativeSelect>
          </div>
          <Button type="submit" disabled={create.isPending || !name.trim()}>
            <KeyRound aria-hidden /> Create token
          </Button>
        </form>
        {created && <NewToken token={created} onDone={() => setCreated(null)} />}
        {active.length > 0 ? (
          <Table data-testid="token-list">
            <TableHeader>
              <TableRow>
                <TableHead>Name</TableHead>
                <TableHead>Prefix</TableHead>
                <TableHead>Access</TableHead>
                <TableHead>Last used</TableHead>
                <TableHead>Expires</TableHead>
                <TableHead>
                  <span className="sr-only">Actions</span>
                </TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {active.map((t) => (
                <TableRow key={t.id} data-testid="token-row">
                  <TableCell className="font-medium">{t.name}</TableCell>
                  <TableCell className="font-mono text-xs">{t.prefix}…</TableCell>
                  <TableCell>{t.scopes.join(", ")}</TableCell>
                  <TableCell>{t.last_used_at ? formatDateTime(t.last_used_at) : "never"}</TableCell>
                  <TableCell>{t.expires_at ? formatDateTime(t.expires_at) : "never"}</TableCell>
                  <TableCell className="text-right">
                    <Button variant="outline" size="sm" onClick={() => setRevoking(t)} aria-label={`Revoke ${t.name}`}>
                      Revoke
                    </Button>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        ) : (
          !tokens.isLoading && <p className="text-sm text-muted-foreground">No active tokens.</p>
        )}
        <ConfirmDialog
          open={revoking !== null}
          onOpenChange={(o) => !o && setRevoking(null)}
          title={`Revoke “${revoking?.name ?? ""}”?`}
          description="Anything using this token stops working at once. This cannot be undone."
          confirmLabel="Revoke"
          onConfirm={() => revoking && revoke.mutate(revoking.id)}
          pending={revoke.isPending}
        />
      </CardContent>
    </Card>
  );
}

function BookmarkletCard() {
  return (
    <Card>
      <CardHeader>
        <CardTitle className="text-base">Bookmarklet</CardTitle>
      </CardHeader>
      <CardContent className="grid gap-3">
        <p className="text-sm text-muted-foreground">
          Drag this link to your bookmarks bar; clicking it on a Hugging Face or GitHub page opens ModelMate in a new window with that model pre-filled, saved with your own login (the bookmark holds no token).
        </p>
        <div>
          <BookmarkletLink />
        </div>
      </CardContent>
    </Card>
  );
}

export default function SettingsPage() {
  const { data: state } = useAuthState();
  const signedIn = state?.mode === "accounts" && !!state.user;
  return (
    <div className="grid gap-6">
      <PageHeader title="Settings" description={signedIn ? `Signed in as ${state.user!.username}` : undefined} />
      {state?.mode === "single_user" && (
        <Card>
          <CardContent className="pt-6 text-sm">
            Single-user mode: no login, no password, no tokens needed. <Link className="text-primary hover:underline" to="/signup">Create an account</Link> to add a password and API tokens (everything logged so far becomes yours).
          </CardContent>
        </Card>
      )}
      {signedIn && <PasswordCard />}
      {signedIn && <TokensCard />}
      <BookmarkletCard />
    </div>
  );
}
