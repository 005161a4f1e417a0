using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Workers;

namespace AgentRuns.Functions.Agents;

/// <summary>HTTP workers in the catalog: <c>worker:{name}</c> is available to the tenant that registered a worker of that name, and to no other.</summary>
public sealed class WorkerAgentProvider(WorkerAgent agent, WorkerStore workers) : IAgentProvider
{
    public IAgent Agent => agent;

    public bool Handles(string agent) => WorkerNames.IsWorkerAgent(agent);

    public async Task<string?> UnavailableBecauseAsync(string tenantId, string agent, CancellationToken cancellationToken)
    {
        var name = WorkerNames.FromAgent(agent);
        if (name is null)
        {
            return $"'{Shorten(agent)}' names no worker: {WorkerNames.Rule}.";
        }

        // Another tenant's worker answers exactly like a missing one.
        return await workers.GetAsync(tenantId, name, cancellationToken) is null
            ? $"No worker named '{name}' is registered for this tenant (POST /v1/workers registers one)."
            : null;
    }

    private static string Shorten(string value) => value.Length <= 72 ? value : value[..72] + "…";
}
