import { useAuth } from './auth';
import { AgentPage, AgentsPage } from './pages/Agents';
import { CallDetailPage, CallsPage } from './pages/Calls';
import { CampaignPage, CampaignsPage } from './pages/Campaigns';
import { FleetPage } from './pages/Fleet';
import { DNCPage, FleetsPage, NumbersPage } from './pages/Lists';
import { Login } from './pages/Login';
import { PeoplePage } from './pages/People';
import { Link, match, navigate, useLocation } from './router';
import { Layout, Loading } from './ui';

export function App() {
  const { me, loading } = useAuth();
  const { path } = useLocation();
  if (loading) return <Loading what="the Console" />;
  if (!me) return <Login />;
  if (path === '/' || path === '/login') {
    navigate('/fleet', true);
    return null;
  }
  let m: Record<string, string> | null;
  if ((m = match('/calls/:id', path))) return <CallDetailPage id={m.id!} />;
  if ((m = match('/agents/:id', path))) return <AgentPage id={m.id!} />;
  if ((m = match('/campaigns/:id', path))) return <CampaignPage id={m.id!} />;
  switch (path.replace(/\/+$/, '')) {
    case '/fleet':
      return <FleetPage />;
    case '/calls':
      return <CallsPage />;
    case '/agents':
      return <AgentsPage />;
    case '/campaigns':
      return <CampaignsPage />;
    case '/do-not-call':
      return <DNCPage />;
    case '/numbers':
      return <NumbersPage />;
    case '/fleets':
      return <FleetsPage />;
    case '/people':
      return <PeoplePage />;
  }
  return (
    <Layout title="Not found">
      <p>
        Nothing here. <Link to="/fleet">Go to the live fleet</Link>.
      </p>
    </Layout>
  );
}
