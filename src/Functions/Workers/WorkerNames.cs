using System.Text.RegularExpressions;

namespace AgentRuns.Functions.Workers;

/// <summary>
/// A worker's name: chosen by the tenant at registration, 1 to 63 lowercase letters, digits, <c>-</c> and <c>_</c>, starting with a
/// letter or digit. A run names the worker as <c>worker:{name}</c>.
/// </summary>
public static partial class WorkerNames
{
    public const string AgentPrefix = "worker:";

    public const string Rule = "a worker's name is 1 to 63 lowercase letters, digits, '-' and '_', starting with a letter or digit";

    public static bool IsValid(string? name) => name is not null && Valid().IsMatch(name);

    /// <summary>The agent name a run gives to use this worker.</summary>
    public static string Agent(string name) => AgentPrefix + name;

    /// <summary>True for <c>worker:…</c>, whether or not the rest is a valid name.</summary>
    public static bool IsWorkerAgent(string agent)
    {
        ArgumentNullException.ThrowIfNull(agent);
        return agent.StartsWith(AgentPrefix, StringComparison.Ordinal);
    }

    /// <summary>The worker's name in an agent name (<c>worker:{name}</c>), or null when it is not one.</summary>
    public static string? FromAgent(string agent) =>
        IsWorkerAgent(agent) && IsValid(agent[AgentPrefix.Length..]) ? agent[AgentPrefix.Length..] : null;

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,62}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Valid();
}
