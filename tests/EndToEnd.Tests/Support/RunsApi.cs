using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace AgentRuns.EndToEnd.Tests.Support;

/// <summary>A response as the client saw it.</summary>
public sealed record ApiResponse(HttpStatusCode Status, string? ContentType, string Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public override string ToString() => $"{(int)Status} {Body}";
}

/// <summary>Raw HTTP calls to the runs API of a running local host.</summary>
public static class RunsApi
{
    public static async Task<ApiResponse> SendAsync(this HttpClient http, HttpMethod method, string pathAndQuery, string? json = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(pathAndQuery, UriKind.Relative));
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
        }

        using var response = await http.SendAsync(request);
        return new ApiResponse(response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }

    public static async Task<string> CreateRunAsync(this HttpClient http, string body)
    {
        var response = await http.SendAsync(HttpMethod.Post, "/v1/runs", body);
        Assert.True(response.Status == HttpStatusCode.Created, $"create failed: {response}");
        return response.Json.GetProperty("id").GetString()!;
    }

    public static Task<ApiResponse> WaitForStatusAsync(this HttpClient http, string runId, string status) =>
        Eventually.GetAsync(
            () => http.SendAsync(HttpMethod.Get, $"/v1/runs/{runId}"),
            r => r.Status == HttpStatusCode.OK && r.Json.GetProperty("status").GetString() == status,
            TimeSpan.FromSeconds(60),
            $"{runId} to be {status}");

    public static async Task<List<JsonElement>> EventsAsync(this HttpClient http, string runId)
    {
        var all = new List<JsonElement>();
        long after = 0;
        while (true)
        {
            var page = await http.SendAsync(HttpMethod.Get, $"/v1/runs/{runId}/events?after_seq={after}&limit=1000");
            Assert.True(page.Status == HttpStatusCode.OK, $"events failed: {page}");
            var data = page.Json.GetProperty("data").EnumerateArray().ToList();
            all.AddRange(data);
            if (!page.Json.GetProperty("has_more").GetBoolean())
            {
                return all;
            }

            after = data[^1].GetProperty("seq").GetInt64();
        }
    }
}
