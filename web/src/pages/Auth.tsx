import { useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader } from "@/components/ui/card";
import { Input, Label } from "@/components/ui/input";
import { api, errorMessage } from "@/lib/api";
import { safeNext, useAuthState } from "@/lib/auth";
import type { LoginRequest, SignupRequest } from "@/client";

function AuthCard({ title, description, children }: { title: string; description: string; children: React.ReactNode }) {
  return (
    <Card className="mx-auto mt-6 w-full max-w-sm">
      <CardHeader>
        <h1 className="text-xl font-semibold tracking-tight">{title}</h1>
        <CardDescription>{description}</CardDescription>
      </CardHeader>
      <CardContent>{children}</CardContent>
    </Card>
  );
}

/** After a sign-in: forget everything cached for the previous principal, then go where the user was headed. */
function useSignedIn() {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  return () => {
    qc.clear();
    navigate(next, { replace: true });
  };
}

export function LoginPage() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [params] = useSearchParams();
  const done = useSignedIn();
  const login = useMutation({
    mutationFn: (body: LoginRequest) => api.post("/auth/login", { body }),
    meta: { silent: true },
    onSuccess: done,
  });
  const next = params.get("next");
  return (
    <AuthCard title="Log in" description="Sign in to your ModelMate account.">
      <form
        className="grid gap-4"
        aria-label="Log in"
        onSubmit={(e) => {
          e.preventDefault();
          login.mutate({ username: username.trim(), password });
        }}
      >
        <div className="grid gap-1.5">
          <Label htmlFor="login-username">Username or email</Label>
          <Input id="login-username" autoComplete="username" required autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />
        </div>
        <div className="grid gap-1.5">
          <Label htmlFor="login-password">Password</Label>
          <Input id="login-password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </div>
        {login.isError && (
          <p role="alert" className="text-sm text-destructive">
            {errorMessage(login.error)}
          </p>
        )}
        <Button type="submit" disabled={login.isPending || !username.trim() || !password}>
          {login.isPending ? "Logging in…" : "Log in"}
        </Button>
        <p className="text-sm text-muted-foreground">
          No account yet?{" "}
          <Link className="text-primary hover:underline" to={next ? `/signup?next=${encodeURIComponent(next)}` : "/signup"}>
            Create one
          </Link>
        </p>
      </form>
    </AuthCard>
  );
}

export function SignupPage() {
  const [username, setUsername] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [setupToken, setSetupToken] = useState("");
  const { data: state } = useAuthState();
  const done = useSignedIn();
  const signup = useMutation({
    mutationFn: (body: SignupRequest) => api.post("/auth/signup", { body }),
    meta: { silent: true },
    onSuccess: done,
  });
  const first = state?.mode === "single_user";
  // No account yet: the first one (the administrator) needs the one-time token the server printed in its log.
  const needsToken = state?.setup_required === true;
  return (
    <AuthCard
      title="Create account"
      description={first ? "The first account takes over everything logged so far in single-user mode." : "Sign up for ModelMate."}
    >
      {state && !state.signup_open ? (
        <p className="text-sm text-muted-foreground">
          Sign-up is closed on this server. <Link className="text-primary hover:underline" to="/login">Log in</Link> instead.
        </p>
      ) : (
        <form
          className="grid gap-4"
          aria-label="Create account"
          onSubmit={(e) => {
            e.preventDefault();
            signup.mutate({
              username: username.trim().toLowerCase(),
              email: email.trim(),
              password,
              ...(needsToken ? { setup_token: setupToken.trim() } : {}),
            });
          }}
        >
          <div className="grid gap-1.5">
            <Label htmlFor="signup-username">Username</Label>
            <Input id="signup-username" autoComplete="username" required autoFocus pattern="[a-z0-9_\-]{3,32}" title="3–32 characters: a-z, 0-9, _ or -" value={username} onChange={(e) => setUsername(e.target.value)} />
          </div>
          <div className="grid gap-1.5">
            <Label htmlFor="signup-email">Email</Label>
            <Input id="signup-email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </div>
          <div className="grid gap-1.5">
            <Label htmlFor="signup-password">Password</Label>
            <Input id="signup-password" type="password" autoComplete="new-password" required minLength={10} value={password} onChange={(e) => setPassword(e.target.value)} />
            <p className="text-xs text-muted-foreground">At least 10 characters, not a common password.</p>
          </div>
          {needsToken && (
            <div className="grid gap-1.5">
              <Label htmlFor="signup-setup-token">Setup token</Label>
              <Input id="signup-setup-token" autoComplete="off" spellCheck={false} required value={setupToken} onChange={(e) => setSetupToken(e.target.value)} />
              <p className="text-xs text-muted-foreground">
                The first account is the administrator. Paste the one-time setup token the server printed in its log when it started (or create the account on the server with{" "}
                <code>modelmate users create</code>).
              </p>
            </div>
          )}
          {signup.isError && (
            <p role="alert" className="text-sm text-destructive">
              {errorMessage(signup.error)}
            </p>
          )}
          <Button type="submit" disabled={signup.isPending}>
            {signup.isPending ? "Creating…" : "Create account"}
          </Button>
          <p className="text-sm text-muted-foreground">
            Already have one? <Link className="text-primary hover:underline" to="/login">Log in</Link>
          </p>
        </form>
      )}
    </AuthCard>
  );
}
