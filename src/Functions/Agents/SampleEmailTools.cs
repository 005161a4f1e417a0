using System.ComponentModel;
using AgentRuns.Functions.Storage;
using Microsoft.Extensions.AI;

namespace AgentRuns.Functions.Agents;

/// <summary>
/// The sample toolset that tells the guide's story ("Draft and send the weekly team update email"): <c>draft_email</c> runs at
/// once, <c>send_email</c> waits for a human's approval (who may edit the recipient, subject or body) and then puts the email
/// in the EmailOutbox table instead of sending mail. Both are plain Microsoft.Extensions.AI functions, registered like any
/// deployer's tool.
/// </summary>
public sealed class SampleEmailTools(EmailOutbox outbox)
{
    public const string DraftEmail = "draft_email";
    public const string SendEmail = "send_email";

    /// <summary>Longest subject and body the tools take (a model that writes more gets an error result and can shorten).</summary>
    public const int MaxSubjectChars = 300;
    public const int MaxBodyChars = 20_000;

    public IReadOnlyList<ModelTool> Tools =>
    [
        new(AIFunctionFactory.Create(Draft, DraftEmail, "Drafts an email for review. Sends nothing.")),
        new(new ApprovalRequiredAIFunction(AIFunctionFactory.Create(
            SendAsync, SendEmail, "Sends an email. A human approves each email first and may edit it.")), AllowEdits: true),
    ];

    private static EmailDraft Draft(
        [Description("Recipient email address(es), comma-separated.")] string to,
        [Description("Subject line.")] string subject,
        [Description("The body text.")] string body)
    {
        Check(subject, body);
        return new EmailDraft(to, subject, body, "Drafted. Call send_email with the final text to send it; a human approves it first.");
    }

    private async Task<SentEmail> SendAsync(
        [Description("Recipient email address(es), comma-separated.")] string to,
        [Description("Subject line.")] string subject,
        [Description("The body text.")] string body,
        AIFunctionArguments arguments,
        CancellationToken cancellationToken)
    {
        Check(subject, body);
        var call = ToolCallContext.Of(arguments);
        var (email, queued) = await outbox.QueueAsync(call.TenantId, call.RunId, call.ToolCallId, to, subject, body, cancellationToken);
        return new SentEmail(email.To, email.Subject, queued ? "queued" : "already_queued", email.QueuedAt);
    }

    private static void Check(string subject, string body)
    {
        if (subject.Length > MaxSubjectChars || body.Length > MaxBodyChars)
        {
            throw new ArgumentException($"subject may have at most {MaxSubjectChars} characters and body at most {MaxBodyChars}.");
        }
    }

    public sealed record EmailDraft(string To, string Subject, string Body, string Note);

    public sealed record SentEmail(string To, string Subject, string Status, DateTimeOffset QueuedAt);
}
