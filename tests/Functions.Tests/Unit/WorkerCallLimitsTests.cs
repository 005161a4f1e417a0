using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Net.Http.Headers;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Workers;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>The bounds of one step's call of a worker: Retry-After is honoured up to the longest back-off, and the settings keep the whole call inside one activity.</summary>
public sealed class WorkerCallLimitsTests
{
    [Theory]
    [InlineData(3600, 30)]
    [InlineData(31, 30)]
    [InlineData(5, 5)]
    [InlineData(0, 0)]
    public void ARetryAfterInSeconds_IsHonouredUpTo30Seconds(int asked, int waited)
    {
        using var response = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(asked));

        Assert.Equal(TimeSpan.FromSeconds(waited), WorkerAgentServiceCollectionExtensions.RetryAfter(response));
    }

    [Fact]
    public void ARetryAfterDate_IsHonouredUpTo30Seconds_AndOneInThePastMeansNow()
    {
        using var later = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        later.Headers.RetryAfter = new RetryConditionHeaderValue(DateTimeOffset.UtcNow.AddHours(2));
        using var past = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        past.Headers.RetryAfter = new RetryConditionHeaderValue(DateTimeOffset.UtcNow.AddHours(-2));

        Assert.Equal(TimeSpan.FromSeconds(30), WorkerAgentServiceCollectionExtensions.RetryAfter(later));
        Assert.Equal(TimeSpan.Zero, WorkerAgentServiceCollectionExtensions.RetryAfter(past));
    }

    [Fact]
    public void NoRetryAfter_LeavesTheDelayToTheBackOff()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.InternalServerError);

        Assert.Null(WorkerAgentServiceCollectionExtensions.RetryAfter(response));
        Assert.Null(WorkerAgentServiceCollectionExtensions.RetryAfter(null));
    }

    [Theory]
    [InlineData(30, 3, true)]    // the defaults: 4 × 30 + 3 × 30 = 210 s
    [InlineData(60, 5, false)]   // 6 × 60 + 5 × 30 = 510 s: over 8 minutes
    [InlineData(120, 2, true)]   // 3 × 120 + 2 × 30 = 420 s
    [InlineData(300, 10, false)] // 11 × 300 + 10 × 30: an hour
    [InlineData(300, 1, false)]  // 2 × 300 + 30 = 630 s
    public void TheSettings_AreRefused_WhenAStepsCallCouldOutlastTheActivity(int timeoutSeconds, int retries, bool valid)
    {
        var options = new WorkerOptions { TimeoutSeconds = timeoutSeconds, MaxRetries = retries };
        var errors = new List<ValidationResult>();

        var ok = Validator.TryValidateObject(options, new ValidationContext(options), errors, validateAllProperties: true);

        Assert.Equal(valid, ok);
        if (!valid)
        {
            Assert.Contains("at most 480 s fit in one activity", errors.Single().ErrorMessage, StringComparison.Ordinal);
        }
    }
}
