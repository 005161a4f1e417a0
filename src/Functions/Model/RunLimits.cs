namespace AgentRuns.Functions.Model;

/// <summary>
/// What a run may hold. Everything the API accepts is storable: each value is kept as the client sent it (one copy, never
/// re-escaped) and split over several table properties when it is longer than one property holds, so the limits below are
/// the only ones. docs/api.md states them.
/// </summary>
public static class RunLimits
{
    /// <summary>The largest request body, in bytes (UTF-8). Larger is <c>413 payload_too_large</c> before anything is written.</summary>
    public const int MaxBodyBytes = 32 * 1024;

    /// <summary>The largest output a run can end with, in characters of its JSON text. Larger ends the run <c>failed</c> with
    /// <c>output_too_large</c>.</summary>
    public const int MaxOutputChars = 128 * 1024;

    /// <summary>How many times one request's deadline may be moved. One more is <c>409 extend_limit_reached</c>: every extend
    /// is remembered in the run's record (so that a retry of any of them is recognised), and the record must stay small.</summary>
    public const int MaxExtendsPerRequest = 50;

    /// <summary>The longest proposed action an agent may put before a human, in characters of its JSON text (a plan's step comes
    /// within the request body's limit; a worker's answer longer is malformed; a model's tool call longer is an error result the
    /// model is told of).</summary>
    public const int MaxProposedActionChars = 32 * 1024;

    /// <summary>The longest failure reason kept; longer reasons are cut with an ellipsis.</summary>
    public const int MaxReasonChars = 4 * 1024;

    /// <summary>Cuts a free-text reason to <see cref="MaxReasonChars"/>.</summary>
    public static string Reason(string reason)
    {
        if (reason.Length <= MaxReasonChars)
        {
            return reason;
        }

        var cut = MaxReasonChars - 1;
        if (char.IsHighSurrogate(reason[cut - 1]))
        {
            cut--; // never split a surrogate pair
        }

        return reason[..cut] + "…";
    }
}
