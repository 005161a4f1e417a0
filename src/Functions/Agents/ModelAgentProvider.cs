using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Agents;

/// <summary>The model agent in the catalog: available when the <c>ModelAgent</c> section names a model, to the tenants it allows.</summary>
public sealed class ModelAgentProvider(ModelAgent agent, IOptions<ModelAgentOptions> options) : IAgentProvider
{
    public IAgent Agent => agent;

    public bool Handles(string agent) => agent == AgentNames.Model;

    public Task<string?> UnavailableBecauseAsync(string tenantId, string agent, CancellationToken cancellationToken) =>
        Task.FromResult(options.Value.UnavailableBecause(tenantId));
}
