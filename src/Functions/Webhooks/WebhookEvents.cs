using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Webhooks;

/// <summary>The event types a webhook can subscribe to: those a human or a system outside the run must hear about.</summary>
public static class WebhookEvents
{
    /// <summary>Every type a subscription may name (and gets when it names none), in the order of <see cref="RunEventTypes.All"/>.</summary>
    public static readonly IReadOnlyList<string> Supported =
        [.. RunEventTypes.All.Where(t => t is RunEventTypes.AwaitingInput or RunEventTypes.InputReminder or RunEventTypes.InputExtended || RunEventTypes.IsTerminal(t))];

    public static bool IsSupported(string type) => Supported.Contains(type, StringComparer.Ordinal);
}
