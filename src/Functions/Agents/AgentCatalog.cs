using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Agents;

/// <summary>Which agent a run gets when its create request does not say. Bound from the <c>Agents</c> section.</summary>
public sealed class AgentOptions
{
    public const string SectionName = "Agents";

    [Required]
    public string Default { get; set; } = AgentNames.Scripted;
}

/// <summary>An agent a run can choose by name, and who may choose it.</summary>
public interface IAgentProvider
{
    /// <summary>True for the names this provider serves (<c>scripted</c>, <c>model</c>, <c>worker:…</c>).</summary>
    bool Handles(string agent);

    /// <summary>Null when the tenant may run this agent; else why not (for the 400 of a create).</summary>
    Task<string?> UnavailableBecauseAsync(string tenantId, string agent, CancellationToken cancellationToken);

    IAgent Agent { get; }
}

/// <summary>The built-in scripted agent (the <see cref="IAgent"/> registration, so tests can wrap it): every tenant may use it.</summary>
public sealed class ScriptedAgentProvider(IAgent scripted) : IAgentProvider
{
    public IAgent Agent => scripted;

    public bool Handles(string agent) => agent == AgentNames.Scripted;

    public Task<string?> UnavailableBecauseAsync(string tenantId, string agent, CancellationToken cancellationToken) => Task.FromResult<string?>(null);
}

/// <summary>The agents this service runs, by name: checked when a run is created, resolved for each of its steps.</summary>
public sealed class AgentCatalog(IEnumerable<IAgentProvider> providers, IOptions<AgentOptions> options)
{
    public string Default => options.Value.Default;

    /// <summary>Null when the tenant may create a run with this agent; else why not.</summary>
    public async Task<string?> UnavailableBecauseAsync(string tenantId, string agent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(agent);
        var provider = providers.FirstOrDefault(p => p.Handles(agent));
        return provider is null
            ? $"Unknown agent '{(agent.Length <= 64 ? agent : agent[..64] + "…")}'."
            : await provider.UnavailableBecauseAsync(tenantId, agent, cancellationToken);
    }

    public IAgent Resolve(string agent) =>
        providers.FirstOrDefault(p => p.Handles(agent))?.Agent ?? throw new InvalidOperationException($"No agent serves '{agent}'.");
}
