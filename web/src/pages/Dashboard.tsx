import { lazy, Suspense } from "react";
import { Link } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { Activity, BookOpen, Library, NotebookPen, Sparkles, Star, Tags } from "lucide-react";
import { EmptyState, PageHeader } from "@/components/AppShell";
import { EventLine } from "@/components/EventLine";
import { ModelCard } from "@/components/ModelCard";
import { NewEntryDialog } from "@/components/NewEntryDialog";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Skeleton } from "@/components/ui/skeleton";
import { api } from "@/lib/api";

const charts = () => import("./DashboardCharts");
const StatusChart = lazy(() => charts().then((m) => ({ default: m.StatusChart })));
const TypeChart = lazy(() => charts().then((m) => ({ default: m.TypeChart })));
const MonthChart = lazy(() => charts().then((m) => ({ default: m.MonthChart })));

function Stat({ label, value, icon: Icon, hint }: { label: string; value: React.ReactNode; icon: React.ComponentType<{ className?: string }>; hint?: string }) {
  return (
    <Card className="p-4" data-testid="stat">
      <div className="flex items-center justify-between text-muted-foreground">
        <span className="text-sm">{label}</span>
        <Icon className="size-4" />
      </div>
      <p className="mt-2 text-2xl font-semibold tabular-nums tracking-tight">{value}</p>
      {hint && <p className="text-xs text-muted-foreground">{hint}</p>}
    </Card>
  );
}

function ChartCard({ title, description, children, className }: { title: string; description?: string; children: React.ReactNode; className?: string }) {
  return (
    <Card className={className}>
      <CardHeader>
        <CardTitle className="text-base">{title}</CardTitle>
        {description && <CardDescription>{description}</CardDescription>}
      </CardHeader>
      <CardContent>
        <Suspense fallback={<Skeleton className="h-[220px] w-full" />}>{children}</Suspense>
      </CardContent>
    </Card>
  );
}

export default function Dashboard() {
  const { data, isLoading } = useQuery({ queryKey: ["dashboard"], queryFn: () => api.get("/dashboard") });

  if (isLoading || !data) {
    return (
      <div>
        <PageHeader title="Dashboard" />
        <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
          {Array.from({ length: 4 }, (_, i) => (
            <Skeleton key={i} className="h-24" />
          ))}
        </div>
        <Skeleton className="mt-6 h-64" />
      </div>
    );
  }
  const t = data.totals;
  if (t.entries === 0) {
    return (
      <div>
        <PageHeader title="Dashboard" />
        <EmptyState icon={Sparkles} title="Welcome to ModelMate">
          <p>Log the models you meet — tried, studied, using, or on your wishlist — and watch your map of the field grow.</p>
          <div className="mt-4 flex justify-center gap-2">
            <NewEntryDialog />
            <Button variant="outline" asChild>
              <Link to="/transfer">Import a file</Link>
            </Button>
          </div>
        </EmptyState>
      </div>
    );
  }
  return (
    <div>
      <PageHeader title="Dashboard" description="Your models at a glance." actions={<NewEntryDialog />} />
      <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
        <Stat label="Models logged" value={t.entries} icon={Library} hint={`${t.using_now} in use now`} />
        <Stat label="Journal notes" value={t.journal_notes} icon={NotebookPen} />
        <Stat label="Tags" value={t.tags} icon={Tags} />
        <Stat label="Average rating" value={t.average_rating == null ? "—" : t.average_rating.toFixed(1)} icon={Star} hint={`${t.rated} rated`} />
      </div>
      <div className="mt-6 grid gap-6 lg:grid-cols-2">
        <ChartCard title="By status">
          <StatusChart data={data.by_status} />
        </ChartCard>
        <ChartCard title="By type">
          <TypeChart data={data.by_type} />
        </ChartCard>
        <ChartCard title="Models per month" description="Added to your log, and last interacted with" className="lg:col-span-2">
          <MonthChart data={data.by_month} />
        </ChartCard>
      </div>
      <div className="mt-6 grid gap-6 lg:grid-cols-[minmax(0,1fr)_minmax(0,1fr)]">
        <Card>
          <CardHeader className="flex-row items-center justify-between">
            <CardTitle className="flex items-center gap-2 text-base">
              <Activity className="size-4" aria-hidden /> Recent activity
            </CardTitle>
            <Button variant="link" size="sm" asChild>
              <Link to="/timeline">Timeline</Link>
            </Button>
          </CardHeader>
          <CardContent className="divide-y">
            {data.recent_activity.length === 0 && <p className="text-sm text-muted-foreground">Nothing yet.</p>}
            {data.recent_activity.slice(0, 8).map((ev) => (
              <EventLine key={ev.id} ev={ev} />
            ))}
          </CardContent>
        </Card>
        <Card>
          <CardHeader className="flex-row items-center justify-between">
            <CardTitle className="flex items-center gap-2 text-base">
              <BookOpen className="size-4" aria-hidden /> Explore next
            </CardTitle>
            <Button variant="link" size="sm" asChild>
              <Link to="/models?status=wishlist">Wishlist</Link>
            </Button>
          </CardHeader>
          <CardContent className="grid gap-3">
            {data.wishlist.length === 0 && <p className="text-sm text-muted-foreground">Your wishlist is empty.</p>}
            {data.wishlist.slice(0, 4).map((e) => (
              <ModelCard key={e.id} entry={e} compact />
            ))}
          </CardContent>
        </Card>
      </div>
      {data.top_tags.length > 0 && (
        <Card className="mt-6">
          <CardHeader>
            <CardTitle className="text-base">Top tags</CardTitle>
          </CardHeader>
          <CardContent className="flex flex-wrap gap-2">
            {data.top_tags.map((tag) => (
              <Link key={tag.value} to={`/models?tag=${encodeURIComponent(tag.value)}`}>
                <Badge variant="muted" className="hover:bg-accent">
                  {tag.value} <span className="text-muted-foreground/70">{tag.count}</span>
                </Badge>
              </Link>
            ))}
          </CardContent>
        </Card>
      )}
    </div>
  );
}
