import { Link } from "react-router";
import { EmptyState } from "@/components/AppShell";
import { Button } from "@/components/ui/button";

export default function NotFound() {
  return (
    <EmptyState title="Page not found">
      <p>There is nothing at this address.</p>
      <Button asChild variant="outline" className="mt-3">
        <Link to="/">Go to the dashboard</Link>
      </Button>
    </EmptyState>
  );
}
